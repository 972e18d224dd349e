"use strict";
var __assign = (this && this.__assign) || function () {
    __assign = Object.assign || function(t) {
        for (var s, i = 1, n = arguments.length; i < n; i++) {
            s = arguments[i];
            for (var p in s) if (Object.prototype.hasOwnProperty.call(s, p))
                t[p] = s[p];
        }
        return t;
    };
    return __assign.apply(this, arguments);
};
var __awaiter = (this && this.__awaiter) || function (thisArg, _arguments, P, generator) {
    function adopt(value) { return value instanceof P ? value : new P(function (resolve) { resolve(value); }); }
    return new (P || (P = Promise))(function (resolve, reject) {
        function fulfilled(value) { try { step(generator.next(value)); } catch (e) { reject(e); } }
        function rejected(value) { try { step(generator["throw"](value)); } catch (e) { reject(e); } }
        function step(result) { result.done ? resolve(result.value) : adopt(result.value).then(fulfilled, rejected); }
        step((generator = generator.apply(thisArg, _arguments || [])).next());
    });
};
var __generator = (this && this.__generator) || function (thisArg, body) {
    var _ = { label: 0, sent: function() { if (t[0] & 1) throw t[1]; return t[1]; }, trys: [], ops: [] }, f, y, t, g = Object.create((typeof Iterator === "function" ? Iterator : Object).prototype);
    return g.next = verb(0), g["throw"] = verb(1), g["return"] = verb(2), typeof Symbol === "function" && (g[Symbol.iterator] = function() { return this; }), g;
    function verb(n) { return function (v) { return step([n, v]); }; }
    function step(op) {
        if (f) throw new TypeError("Generator is already executing.");
        while (g && (g = 0, op[0] && (_ = 0)), _) try {
            if (f = 1, y && (t = op[0] & 2 ? y["return"] : op[0] ? y["throw"] || ((t = y["return"]) && t.call(y), 0) : y.next) && !(t = t.call(y, op[1])).done) return t;
            if (y = 0, t) op = [op[0] & 2, t.value];
            switch (op[0]) {
                case 0: case 1: t = op; break;
                case 4: _.label++; return { value: op[1], done: false };
                case 5: _.label++; y = op[1]; op = [0]; continue;
                case 7: op = _.ops.pop(); _.trys.pop(); continue;
                default:
                    if (!(t = _.trys, t = t.length > 0 && t[t.length - 1]) && (op[0] === 6 || op[0] === 2)) { _ = 0; continue; }
                    if (op[0] === 3 && (!t || (op[1] > t[0] && op[1] < t[3]))) { _.label = op[1]; break; }
                    if (op[0] === 6 && _.label < t[1]) { _.label = t[1]; t = op; break; }
                    if (t && _.label < t[2]) { _.label = t[2]; _.ops.push(op); break; }
                    if (t[2]) _.ops.pop();
                    _.trys.pop(); continue;
            }
            op = body.call(thisArg, _);
        } catch (e) { op = [6, e]; y = 0; } finally { f = t = 0; }
        if (op[0] & 5) throw op[1]; return { value: op[0] ? op[1] : void 0, done: true };
    }
};
var __spreadArray = (this && this.__spreadArray) || function (to, from, pack) {
    if (pack || arguments.length === 2) for (var i = 0, l = from.length, ar; i < l; i++) {
        if (ar || !(i in from)) {
            if (!ar) ar = Array.prototype.slice.call(from, 0, i);
            ar[i] = from[i];
        }
    }
    return to.concat(ar || Array.prototype.slice.call(from));
};
Object.defineProperty(exports, "__esModule", { value: true });
var node_fs_1 = require("node:fs");
var promises_1 = require("node:fs/promises");
var node_os_1 = require("node:os");
var node_path_1 = require("node:path");
var node_url_1 = require("node:url");
var core_1 = require("@carboncp/core");
var protocol_1 = require("@carboncp/protocol");
var vitest_1 = require("vitest");
var device_profile_js_1 = require("../device-profile.js");
var device_profiles_js_1 = require("./device-profiles.js");
var json_schema_subset_test_support_js_1 = require("./json-schema-subset.test-support.js");
var REPO = (0, node_url_1.fileURLToPath)(new URL('../../../../', import.meta.url));
var DEVICES = (0, node_path_1.join)(REPO, 'devices');
var SHARED_DEVICES = (0, node_path_1.join)(REPO, '..', 'shared', 'data', 'devices');
var profiles;
var raw;
var schema;
(0, vitest_1.beforeAll)(function () { return __awaiter(void 0, void 0, void 0, function () {
    var _i, profiles_1, p, _a, _b, _c, _d, _e, _f, _g, _h;
    return __generator(this, function (_j) {
        switch (_j.label) {
            case 0: return [4 /*yield*/, (0, device_profiles_js_1.loadDeviceProfiles)(DEVICES)];
            case 1:
                profiles = _j.sent();
                raw = new Map();
                _i = 0, profiles_1 = profiles;
                _j.label = 2;
            case 2:
                if (!(_i < profiles_1.length)) return [3 /*break*/, 5];
                p = profiles_1[_i];
                _b = (_a = raw).set;
                _c = [p.id];
                _e = (_d = JSON).parse;
                return [4 /*yield*/, (0, promises_1.readFile)((0, node_path_1.join)(DEVICES, "".concat(p.id, ".json")), 'utf8')];
            case 3:
                _b.apply(_a, _c.concat([_e.apply(_d, [_j.sent()])]));
                _j.label = 4;
            case 4:
                _i++;
                return [3 /*break*/, 2];
            case 5:
                _f = json_schema_subset_test_support_js_1.SchemaValidator.bind;
                _h = (_g = JSON).parse;
                return [4 /*yield*/, (0, promises_1.readFile)((0, node_path_1.join)(DEVICES, 'schema.json'), 'utf8')];
            case 6:
                schema = new (_f.apply(json_schema_subset_test_support_js_1.SchemaValidator, [void 0, _h.apply(_g, [_j.sent()])]))();
                return [2 /*return*/];
        }
    });
}); });
var byId = function (id) {
    var found = profiles.find(function (p) { return p.id === id; });
    if (!found)
        throw new Error("no profile ".concat(id));
    return found;
};
(0, vitest_1.describe)('devices/', function () {
    (0, vitest_1.it)('holds the required device classes: Pi 4, Pi 5, a Jetson, a phone, a laptop, this machine', function () {
        var ids = profiles.map(function (p) { return p.id; });
        for (var _i = 0, _a = ['raspberry-pi-4', 'raspberry-pi-5', 'jetson-orin-nano', 'pixel-4', 'macbook-air-m1', 'dev-machine']; _i < _a.length; _i++) {
            var id = _a[_i];
            (0, vitest_1.expect)(ids).toContain(id);
        }
        (0, vitest_1.expect)(new Set(profiles.map(function (p) { return p.class; }))).toEqual(new Set(['single-board', 'embedded-gpu', 'phone', 'laptop', 'server']));
    });
    (0, vitest_1.it)('every profile passes both the JSON Schema and parseDeviceProfile', function () {
        var _loop_1 = function (id, json) {
            (0, vitest_1.expect)(schema.validate(json), id).toBeNull();
            (0, vitest_1.expect)(function () { return (0, device_profile_js_1.parseDeviceProfile)(json); }).not.toThrow();
        };
        for (var _i = 0, raw_1 = raw; _i < raw_1.length; _i++) {
            var _a = raw_1[_i], id = _a[0], json = _a[1];
            _loop_1(id, json);
        }
    });
    (0, vitest_1.it)('has active power >= idle power wherever both are known (a rule JSON Schema cannot state)', function () {
        for (var _i = 0, profiles_2 = profiles; _i < profiles_2.length; _i++) {
            var p = profiles_2[_i];
            var _a = p.power, idleW = _a.idleW, activeW = _a.activeW;
            if (idleW.value !== null && activeW.value !== null)
                (0, vitest_1.expect)(activeW.value, p.id).toBeGreaterThanOrEqual(idleW.value);
        }
    });
    (0, vitest_1.it)('the reference machine has a measured speed, and relative speeds follow from the latencies', function () {
        var _a;
        var reference = byId(device_profile_js_1.REFERENCE_DEVICE_PROFILE_ID);
        (0, vitest_1.expect)((_a = reference.speed) === null || _a === void 0 ? void 0 : _a.latencyMs.kind).toBe('measured');
        (0, vitest_1.expect)((0, device_profile_js_1.relativeSpeed)(reference, reference)).toBe(1);
        var phone = byId('pixel-4');
        // 34.41 ms (dev machine, onnxruntime, 1 thread) / 122.48 ms (Pixel 4, TFLite, 1 large core).
        (0, vitest_1.expect)((0, device_profile_js_1.relativeSpeed)(phone, reference)).toBeCloseTo(34.41 / 122.48, 12);
    });
    (0, vitest_1.it)('the power and radio models run on the shipped numbers (LTE burst of a ResNet-18 input, by hand)', function () {
        // Pixel 4 LTE: 602,112 B x 3.50712e-6 + 2,048 B x 4.1576e-7 + tail 10.7272 + promotion 0.3146
        //   = 2.11167903744 + 0.00085147648 + 10.7272 + 0.3146 = 13.15433051392 J
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(byId('pixel-4'), 'lte', 602112, 2048)).toBeCloseTo(13.15433051392, 9);
        // vessim Pi: 1.3678 + (2.86927 - 1.3678) x 0.5 = 2.118535 W
        (0, vitest_1.expect)((0, device_profile_js_1.estimatePowerW)(byId('raspberry-pi-vessim-dvfs'), 0.5)).toBeCloseTo(2.118535, 12);
        (0, vitest_1.expect)(function () { return (0, device_profile_js_1.estimatePowerW)(byId('raspberry-pi-5'), 0.5); }).toThrow(protocol_1.CarboncpError);
    });
});
(0, vitest_1.describe)('the schema and the validator agree on seeded mutations', function () {
    var MUTANTS = [null, '', '   ', 'x', 'mW', 'unknown', 'estimated', 'derived', 'measured', 0, -1, 1.5, 2, 1e-9, true, [], {}, { value: 1 }];
    function paths(value, prefix) {
        if (prefix === void 0) { prefix = []; }
        var out = [prefix];
        if (Array.isArray(value))
            value.forEach(function (v, i) { return out.push.apply(out, paths(v, __spreadArray(__spreadArray([], prefix, true), [i], false))); });
        else if (typeof value === 'object' && value !== null) {
            for (var _i = 0, _a = Object.entries(value); _i < _a.length; _i++) {
                var _b = _a[_i], k = _b[0], v = _b[1];
                out.push.apply(out, paths(v, __spreadArray(__spreadArray([], prefix, true), [k], false)));
            }
        }
        return out;
    }
    function mutate(json, next) {
        var copy = structuredClone(json);
        var all = paths(copy).slice(1);
        var path = all[Math.floor(next() * all.length)];
        var parent = path.slice(0, -1).reduce(function (node, key) { return node[key]; }, copy);
        var key = path[path.length - 1];
        var action = next();
        if (action < 0.15)
            delete parent[key];
        else if (action < 0.25)
            parent["extra".concat(Math.floor(next() * 3))] = MUTANTS[Math.floor(next() * MUTANTS.length)];
        else if (action < 0.35 && typeof parent[key] === 'number')
            parent[key] = -parent[key] || 0;
        else
            parent[key] = structuredClone(MUTANTS[Math.floor(next() * MUTANTS.length)]);
        return copy;
    }
    var _loop_2 = function (seed) {
        (0, vitest_1.it)("seed ".concat(seed, ": 600 mutants, both accept or both refuse every one"), function () {
            var next = (0, core_1.mulberry32)(seed);
            var sources = __spreadArray([], raw.values(), true);
            var accepted = 0;
            var refused = 0;
            for (var i = 0; i < 600; i++) {
                var mutant = mutate(sources[Math.floor(next() * sources.length)], next);
                var schemaError = schema.validate(mutant);
                var parseError = null;
                try {
                    (0, device_profile_js_1.parseDeviceProfile)(mutant);
                }
                catch (error) {
                    parseError = error;
                }
                if (parseError !== null) {
                    (0, vitest_1.expect)(parseError, JSON.stringify(mutant)).toBeInstanceOf(protocol_1.CarboncpError);
                    (0, vitest_1.expect)(parseError.code).toBe(protocol_1.ErrorCode.BAD_DEVICE_PROFILE);
                }
                // Both verdicts, with the mutant, in the message when they differ.
                (0, vitest_1.expect)({ schema: schemaError === null, parser: parseError === null, mutant: mutant }).toEqual({
                    schema: parseError === null,
                    parser: parseError === null,
                    mutant: mutant,
                });
                if (parseError === null)
                    accepted++;
                else
                    refused++;
            }
            // The mutations reach both outcomes, so agreement is not agreement on "always refuse".
            (0, vitest_1.expect)(accepted).toBeGreaterThan(20);
            (0, vitest_1.expect)(refused).toBeGreaterThan(200);
        });
    };
    for (var _i = 0, _a = [1, 2, 3, 4]; _i < _a.length; _i++) {
        var seed = _a[_i];
        _loop_2(seed);
    }
    (0, vitest_1.it)('the schema evaluator refuses keywords it does not implement', function () {
        (0, vitest_1.expect)(function () { return new json_schema_subset_test_support_js_1.SchemaValidator({ type: 'object', maxProperties: 3 }); }).toThrow(/maxProperties/);
    });
});
(0, vitest_1.describe)('numbers computed from ../shared/data', function () {
    var stress = (0, node_path_1.join)(SHARED_DEVICES, 'vessim_rpi_dvfs_stress_power_1s.csv');
    var mobile = (0, node_path_1.join)(SHARED_DEVICES, 'mobilemlbench_tflite_cnn_e2e.csv');
    var median = function (values) {
        var s = __spreadArray([], values, true).sort(function (a, b) { return a - b; });
        var m = s.length >> 1;
        return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    };
    vitest_1.it.skipIf(!(0, node_fs_1.existsSync)(stress))('vessim Pi: idle bound and active are the medians at 600 and 1400 MHz', function () { return __awaiter(void 0, void 0, void 0, function () {
        var rows, header, freq, mw, at, p;
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, (0, promises_1.readFile)(stress, 'utf8')];
                case 1:
                    rows = (_a.sent()).trim().split('\n');
                    header = rows[0].split(',');
                    freq = header.indexOf('cpu_freq_mhz');
                    mw = header.indexOf('power_mW');
                    at = function (mhz) { return rows.slice(1).map(function (r) { return r.split(','); }).filter(function (c) { return c[freq] === mhz; }).map(function (c) { return Number(c[mw]); }); };
                    p = byId('raspberry-pi-vessim-dvfs');
                    (0, vitest_1.expect)(at('600')).toHaveLength(299);
                    (0, vitest_1.expect)(median(at('600')) / 1000).toBeCloseTo(p.power.idleW.value, 6);
                    (0, vitest_1.expect)(median(at('1400')) / 1000).toBeCloseTo(p.power.activeW.value, 6);
                    return [2 /*return*/];
            }
        });
    }); });
    vitest_1.it.skipIf(!(0, node_fs_1.existsSync)(mobile))('Pixel 4 ResNet-18 latency is the MobileML benchmark mean (us -> ms)', function () { return __awaiter(void 0, void 0, void 0, function () {
        var rows, header, row, us;
        var _a, _b, _c;
        return __generator(this, function (_d) {
            switch (_d.label) {
                case 0: return [4 /*yield*/, (0, promises_1.readFile)(mobile, 'utf8')];
                case 1:
                    rows = (_d.sent()).trim().split('\n');
                    header = rows[0].split(',');
                    row = (_b = (_a = rows.find(function (r) { return r.startsWith('resnet18,'); })) === null || _a === void 0 ? void 0 : _a.split(',')) !== null && _b !== void 0 ? _b : [];
                    us = Number(row[header.indexOf('pixel4|1large|float|mean')]);
                    (0, vitest_1.expect)(us / 1000).toBeCloseTo((_c = byId('pixel-4').speed) === null || _c === void 0 ? void 0 : _c.latencyMs.value, 9);
                    return [2 /*return*/];
            }
        });
    }); });
});
(0, vitest_1.describe)('the shipped copy and the loader', function () {
    var dir;
    (0, vitest_1.beforeAll)(function () { return __awaiter(void 0, void 0, void 0, function () {
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, (0, promises_1.mkdtemp)((0, node_path_1.join)((0, node_os_1.tmpdir)(), 'carboncp-profiles-'))];
                case 1:
                    dir = _a.sent();
                    return [2 /*return*/];
            }
        });
    }); });
    (0, vitest_1.afterAll)(function () { return __awaiter(void 0, void 0, void 0, function () {
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, (0, promises_1.rm)(dir, { recursive: true, force: true })];
                case 1:
                    _a.sent();
                    return [2 /*return*/];
            }
        });
    }); });
    (0, vitest_1.it)('packages/carbon/profiles/ equals devices/ file for file (the package ships them; devices/ is not a package)', function () { return __awaiter(void 0, void 0, void 0, function () {
        var json, shipped, _a, _b, _c, _d, _i, shipped_1, name_1, _e, _f, _g, _h;
        return __generator(this, function (_j) {
            switch (_j.label) {
                case 0:
                    json = function (names) { return names.filter(function (n) { return n.endsWith('.json'); }).sort(); };
                    _a = json;
                    return [4 /*yield*/, (0, promises_1.readdir)(device_profiles_js_1.SHIPPED_DEVICE_PROFILES_DIR)];
                case 1:
                    shipped = _a.apply(void 0, [_j.sent()]);
                    _c = (_b = (0, vitest_1.expect)(shipped)).toEqual;
                    _d = json;
                    return [4 /*yield*/, (0, promises_1.readdir)(DEVICES)];
                case 2:
                    _c.apply(_b, [_d.apply(void 0, [_j.sent()])]);
                    _i = 0, shipped_1 = shipped;
                    _j.label = 3;
                case 3:
                    if (!(_i < shipped_1.length)) return [3 /*break*/, 7];
                    name_1 = shipped_1[_i];
                    _f = vitest_1.expect;
                    return [4 /*yield*/, (0, promises_1.readFile)((0, node_path_1.join)(device_profiles_js_1.SHIPPED_DEVICE_PROFILES_DIR, name_1), 'utf8')];
                case 4:
                    _g = (_e = _f.apply(void 0, [_j.sent(), name_1])).toBe;
                    return [4 /*yield*/, (0, promises_1.readFile)((0, node_path_1.join)(DEVICES, name_1), 'utf8')];
                case 5:
                    _g.apply(_e, [_j.sent()]);
                    _j.label = 6;
                case 6:
                    _i++;
                    return [3 /*break*/, 3];
                case 7:
                    _h = vitest_1.expect;
                    return [4 /*yield*/, (0, device_profiles_js_1.loadDeviceProfiles)()];
                case 8:
                    _h.apply(void 0, [(_j.sent()).map(function (p) { return p.id; })]).toEqual(profiles.map(function (p) { return p.id; }));
                    return [2 /*return*/];
            }
        });
    }); });
    (0, vitest_1.it)('loads one profile by id, and names the ids when it is absent', function () { return __awaiter(void 0, void 0, void 0, function () {
        var _a;
        return __generator(this, function (_b) {
            switch (_b.label) {
                case 0:
                    _a = vitest_1.expect;
                    return [4 /*yield*/, (0, device_profiles_js_1.loadDeviceProfile)('pixel-4', DEVICES)];
                case 1:
                    _a.apply(void 0, [(_b.sent()).class]).toBe('phone');
                    return [4 /*yield*/, (0, vitest_1.expect)((0, device_profiles_js_1.loadDeviceProfile)('nokia-3310', DEVICES)).rejects.toMatchObject({
                            code: protocol_1.ErrorCode.NOT_FOUND,
                            message: vitest_1.expect.stringContaining('raspberry-pi-4'),
                        })];
                case 2:
                    _b.sent();
                    return [2 /*return*/];
            }
        });
    }); });
    (0, vitest_1.it)('refuses a directory with a bad file, naming the file and the field', function () { return __awaiter(void 0, void 0, void 0, function () {
        var good, _a, bad;
        return __generator(this, function (_b) {
            switch (_b.label) {
                case 0:
                    good = raw.get('raspberry-pi-4');
                    return [4 /*yield*/, (0, promises_1.writeFile)((0, node_path_1.join)(dir, 'raspberry-pi-4.json'), JSON.stringify(good))];
                case 1:
                    _b.sent();
                    _a = vitest_1.expect;
                    return [4 /*yield*/, (0, device_profiles_js_1.loadDeviceProfiles)(dir)];
                case 2:
                    _a.apply(void 0, [(_b.sent()).map(function (p) { return p.id; })]).toEqual(['raspberry-pi-4']);
                    bad = structuredClone(good);
                    bad.id = 'other';
                    bad.radios.wifi.tailEnergyJ.unit = 'kJ';
                    return [4 /*yield*/, (0, promises_1.writeFile)((0, node_path_1.join)(dir, 'other.json'), JSON.stringify(bad))];
                case 3:
                    _b.sent();
                    return [4 /*yield*/, (0, vitest_1.expect)((0, device_profiles_js_1.loadDeviceProfiles)(dir)).rejects.toMatchObject({
                            code: protocol_1.ErrorCode.BAD_DEVICE_PROFILE,
                            details: { field: 'radios.wifi.tailEnergyJ.unit', file: (0, node_path_1.join)(dir, 'other.json') },
                        })];
                case 4:
                    _b.sent();
                    bad.radios.wifi.tailEnergyJ.unit = 'J';
                    return [4 /*yield*/, (0, promises_1.writeFile)((0, node_path_1.join)(dir, 'other.json'), JSON.stringify(__assign(__assign({}, bad), { id: 'elsewhere' })))];
                case 5:
                    _b.sent();
                    return [4 /*yield*/, (0, vitest_1.expect)((0, device_profiles_js_1.loadDeviceProfiles)(dir)).rejects.toMatchObject({ code: protocol_1.ErrorCode.BAD_DEVICE_PROFILE, details: { field: 'id' } })];
                case 6:
                    _b.sent();
                    return [4 /*yield*/, (0, promises_1.writeFile)((0, node_path_1.join)(dir, 'other.json'), '{ not json')];
                case 7:
                    _b.sent();
                    return [4 /*yield*/, (0, vitest_1.expect)((0, device_profiles_js_1.loadDeviceProfiles)(dir)).rejects.toMatchObject({ code: protocol_1.ErrorCode.BAD_DEVICE_PROFILE, details: { field: '(json)' } })];
                case 8:
                    _b.sent();
                    return [2 /*return*/];
            }
        });
    }); });
    (0, vitest_1.it)('says NOT_FOUND for a missing directory', function () { return __awaiter(void 0, void 0, void 0, function () {
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, (0, vitest_1.expect)((0, device_profiles_js_1.loadDeviceProfiles)((0, node_path_1.join)(dir, 'missing'))).rejects.toMatchObject({ code: protocol_1.ErrorCode.NOT_FOUND })];
                case 1:
                    _a.sent();
                    return [2 /*return*/];
            }
        });
    }); });
});
