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
Object.defineProperty(exports, "__esModule", { value: true });
var protocol_1 = require("@carboncp/protocol");
var vitest_1 = require("vitest");
var device_profile_js_1 = require("./device-profile.js");
var SRC = 'a test fixture, not a real device';
var q = function (value, unit, kind, how) {
    if (kind === void 0) { kind = 'measured'; }
    return (__assign({ value: value, unit: unit, kind: kind, source: SRC }, (how ? { how: how } : {})));
};
/** A valid profile with round numbers, so that every expected value below is computed by hand. */
function fixture() {
    return {
        schemaVersion: 1,
        id: 'test-phone',
        name: 'Test phone',
        class: 'phone',
        cpu: 'two test cores',
        cores: 2,
        power: { idleW: q(2, 'W'), activeW: q(6, 'W') },
        battery: { capacityWh: q(10, 'Wh') },
        radios: {
            wifi: { energyPerByteUpJ: q(1e-6, 'J/B'), energyPerByteDownJ: q(2e-7, 'J/B'), tailEnergyJ: q(0.1, 'J') },
            lte: {
                energyPerByteUpJ: q(4e-6, 'J/B'),
                energyPerByteDownJ: q(5e-7, 'J/B'),
                tailEnergyJ: q(10, 'J', 'derived', '1 W x 10 s of tail, by hand'),
                promotionEnergyJ: q(0.5, 'J'),
            },
        },
        speed: { model: 'resnet18', input: '1x3x224x224 FP32', runtime: 'test runtime', latencyMs: q(100, 'ms') },
    };
}
var parse = function (json) { return (0, device_profile_js_1.parseDeviceProfile)(json); };
function expectCode(fn, code, field) {
    var _a;
    try {
        fn();
    }
    catch (error) {
        (0, vitest_1.expect)(error).toBeInstanceOf(protocol_1.CarboncpError);
        var e = error;
        (0, vitest_1.expect)(e.code).toBe(code);
        if (field !== undefined) {
            (0, vitest_1.expect)((_a = e.details) === null || _a === void 0 ? void 0 : _a.field).toBe(field);
            (0, vitest_1.expect)(e.message).toContain(field);
        }
        return e;
    }
    throw new Error("expected ".concat(code));
}
(0, vitest_1.describe)('parseDeviceProfile', function () {
    (0, vitest_1.it)('accepts a valid profile and returns it', function () {
        var json = fixture();
        (0, vitest_1.expect)(parse(json)).toBe(json);
    });
    (0, vitest_1.it)('accepts null battery, null speed, no radios, an unknown value and $schema', function () {
        var json = fixture();
        json.battery = null;
        json.speed = null;
        json.radios = {};
        json.$schema = './schema.json';
        json.power.idleW = q(null, 'W', 'unknown');
        (0, vitest_1.expect)(parse(json).battery).toBeNull();
    });
    // Each mutation breaks one rule; the error must name that field.
    var cases = [
        ['not an object', function (p) { return Object.assign(p, { __replace: true }); }, '(profile)'],
        ['unknown top-level field', function (p) { return (p.colour = 'red'); }, 'colour'],
        ['schemaVersion 2', function (p) { return (p.schemaVersion = 2); }, 'schemaVersion'],
        ['id with capitals', function (p) { return (p.id = 'Test-Phone'); }, 'id'],
        ['empty name', function (p) { return (p.name = '   '); }, 'name'],
        ['unknown class', function (p) { return (p.class = 'toaster'); }, 'class'],
        ['cores 0', function (p) { return (p.cores = 0); }, 'cores'],
        ['cores 1.5', function (p) { return (p.cores = 1.5); }, 'cores'],
        ['missing power', function (p) { return delete p.power; }, 'power'],
        ['unknown power field', function (p) { return (p.power.peakW = q(9, 'W')); }, 'power.peakW'],
        ['idle in mW', function (p) { return (p.power.idleW.unit = 'mW'); }, 'power.idleW.unit'],
        ['negative active', function (p) { return (p.power.activeW.value = -1); }, 'power.activeW.value'],
        ['string value', function (p) { return (p.power.activeW.value = '6'); }, 'power.activeW.value'],
        ['short source', function (p) { return (p.power.idleW.source = 'trust me'); }, 'power.idleW.source'],
        ['missing source', function (p) { return delete p.power.idleW.source; }, 'power.idleW.source'],
        ['bad kind', function (p) { return (p.power.idleW.kind = 'guessed'); }, 'power.idleW.kind'],
        ['estimated without how', function (p) { return (p.power.idleW.kind = 'estimated'); }, 'power.idleW.how'],
        ['unknown with a number', function (p) { return (p.power.idleW.kind = 'unknown'); }, 'power.idleW.value'],
        ['null value that is not unknown', function (p) { return (p.power.idleW.value = null); }, 'power.idleW.value'],
        ['zero battery', function (p) { return (p.battery.capacityWh.value = 0); }, 'battery.capacityWh.value'],
        ['battery missing', function (p) { return delete p.battery; }, 'battery'],
        ['unknown radio', function (p) { return (p.radios.bluetooth = p.radios.wifi); }, 'radios.bluetooth'],
        ['radio without tail', function (p) { return delete p.radios.lte.tailEnergyJ; }, 'radios.lte.tailEnergyJ'],
        ['radio per-bit unit', function (p) { return (p.radios.wifi.energyPerByteUpJ.unit = 'J/bit'); }, 'radios.wifi.energyPerByteUpJ.unit'],
        ['zero latency', function (p) { return (p.speed.latencyMs.value = 0); }, 'speed.latencyMs.value'],
        ['speed without model', function (p) { return delete p.speed.model; }, 'speed.model'],
        ['speed missing', function (p) { return delete p.speed; }, 'speed'],
        ['empty notes', function (p) { return (p.notes = ''); }, 'notes'],
    ];
    var _loop_1 = function (name_1, mutate, field) {
        (0, vitest_1.it)("refuses ".concat(name_1, ", naming ").concat(field), function () {
            var json = fixture();
            mutate(json);
            expectCode(function () { return parse(json.__replace ? [json] : json); }, protocol_1.ErrorCode.BAD_DEVICE_PROFILE, field);
        });
    };
    for (var _i = 0, cases_1 = cases; _i < cases_1.length; _i++) {
        var _a = cases_1[_i], name_1 = _a[0], mutate = _a[1], field = _a[2];
        _loop_1(name_1, mutate, field);
    }
});
(0, vitest_1.describe)('estimatePowerW (a linear model)', function () {
    var profile = parse(fixture());
    (0, vitest_1.it)('interpolates idle 2 W -> active 6 W', function () {
        (0, vitest_1.expect)((0, device_profile_js_1.estimatePowerW)(profile, 0)).toBe(2);
        (0, vitest_1.expect)((0, device_profile_js_1.estimatePowerW)(profile, 1)).toBe(6);
        (0, vitest_1.expect)((0, device_profile_js_1.estimatePowerW)(profile, 0.25)).toBeCloseTo(3, 12); // 2 + (6 - 2) x 0.25
        (0, vitest_1.expect)((0, device_profile_js_1.estimatePowerW)(profile, 0.6)).toBeCloseTo(4.4, 12); // 2 + 4 x 0.6
        (0, vitest_1.expect)((0, device_profile_js_1.powerModelSource)(profile)).toContain("'test-phone'");
    });
    (0, vitest_1.it)('refuses utilisation outside [0, 1] and NaN', function () {
        var _loop_2 = function (u) {
            expectCode(function () { return (0, device_profile_js_1.estimatePowerW)(profile, u); }, protocol_1.ErrorCode.INVALID_ARGUMENT);
        };
        for (var _i = 0, _a = [-0.01, 1.01, Number.NaN, Number.POSITIVE_INFINITY]; _i < _a.length; _i++) {
            var u = _a[_i];
            _loop_2(u);
        }
    });
    (0, vitest_1.it)('refuses a profile whose idle power is unknown, naming the field', function () {
        var json = fixture();
        json.power.idleW = q(null, 'W', 'unknown');
        expectCode(function () { return (0, device_profile_js_1.estimatePowerW)(parse(json), 0.5); }, protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'power.idleW');
    });
});
(0, vitest_1.describe)('radioEnergyJ (bytes x energy per byte + tail + promotion)', function () {
    var profile = parse(fixture());
    (0, vitest_1.it)('adds per-byte energy, the tail and the promotion once per burst', function () {
        // LTE: 1,000 B up x 4e-6 = 0.004 J; 2,000 B down x 5e-7 = 0.001 J; tail 10 J; promotion 0.5 J.
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(profile, 'lte', 1000, 2000)).toBeCloseTo(10.505, 12);
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(profile, 'lte', 1000, 2000, { tail: false })).toBeCloseTo(0.505, 12);
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(profile, 'lte', 1000, 2000, { tail: false, promotion: false })).toBeCloseTo(0.005, 12);
        // Wi-Fi has no promotion: 602,112 B up x 1e-6 = 0.602112 J; 8 B down x 2e-7 = 1.6e-6 J; tail 0.1 J.
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(profile, 'wifi', 602112, 8)).toBeCloseTo(0.7021136, 12);
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(profile, 'wifi', 0, 0)).toBeCloseTo(0.1, 12);
    });
    (0, vitest_1.it)('refuses a radio the profile lacks and bad byte counts', function () {
        expectCode(function () { return (0, device_profile_js_1.radioEnergyJ)(profile, 'nr5g', 1, 1); }, protocol_1.ErrorCode.INVALID_ARGUMENT);
        var _loop_3 = function (bytes) {
            expectCode(function () { return (0, device_profile_js_1.radioEnergyJ)(profile, 'wifi', bytes, 0); }, protocol_1.ErrorCode.INVALID_ARGUMENT);
            expectCode(function () { return (0, device_profile_js_1.radioEnergyJ)(profile, 'wifi', 0, bytes); }, protocol_1.ErrorCode.INVALID_ARGUMENT);
        };
        for (var _i = 0, _a = [-1, 1.5, Number.NaN]; _i < _a.length; _i++) {
            var bytes = _a[_i];
            _loop_3(bytes);
        }
    });
    (0, vitest_1.it)('refuses an unknown tail only when the tail is asked for', function () {
        var json = fixture();
        json.radios.wifi.tailEnergyJ = q(null, 'J', 'unknown');
        var p = parse(json);
        expectCode(function () { return (0, device_profile_js_1.radioEnergyJ)(p, 'wifi', 10, 10); }, protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'radios.wifi.tailEnergyJ');
        (0, vitest_1.expect)((0, device_profile_js_1.radioEnergyJ)(p, 'wifi', 10, 10, { tail: false })).toBeCloseTo(1.2e-5, 15);
    });
});
(0, vitest_1.describe)('relativeSpeed', function () {
    var reference = function (latency, model) {
        if (model === void 0) { model = 'resnet18'; }
        var json = fixture();
        json.id = 'reference';
        json.speed.model = model;
        json.speed.latencyMs.value = latency;
        return parse(json);
    };
    (0, vitest_1.it)('is reference latency / profile latency on the same model', function () {
        var profile = parse(fixture()); // 100 ms
        (0, vitest_1.expect)((0, device_profile_js_1.relativeSpeed)(profile, reference(25))).toBeCloseTo(0.25, 12);
        (0, vitest_1.expect)((0, device_profile_js_1.relativeSpeed)(profile, reference(400))).toBeCloseTo(4, 12);
        (0, vitest_1.expect)((0, device_profile_js_1.relativeSpeed)(profile, profile)).toBe(1);
    });
    (0, vitest_1.it)('refuses different models and a missing speed', function () {
        var profile = parse(fixture());
        expectCode(function () { return (0, device_profile_js_1.relativeSpeed)(profile, reference(25, 'mobilenetv2')); }, protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'speed.model');
        var json = fixture();
        json.speed = null;
        expectCode(function () { return (0, device_profile_js_1.relativeSpeed)(parse(json), reference(25)); }, protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, 'speed');
    });
});
