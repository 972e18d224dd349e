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
Object.defineProperty(exports, "__esModule", { value: true });
exports.SHIPPED_DEVICE_PROFILES_DIR = void 0;
exports.loadDeviceProfileFile = loadDeviceProfileFile;
exports.loadDeviceProfiles = loadDeviceProfiles;
exports.loadDeviceProfile = loadDeviceProfile;
/**
 * Reads device profiles (`<id>.json` files checked by parseDeviceProfile) from a directory:
 * by default the copy this package ships in `profiles/` (the same files as the repository's
 * `devices/`, kept equal by a test), so that an installed package has them without the monorepo.
 */
var promises_1 = require("node:fs/promises");
var node_url_1 = require("node:url");
var node_path_1 = require("node:path");
var protocol_1 = require("@carboncp/protocol");
var device_profile_js_1 = require("../device-profile.js");
/** The profiles shipped with @carboncp/carbon (src/node and dist/node both sit two levels below the package root). */
exports.SHIPPED_DEVICE_PROFILES_DIR = (0, node_url_1.fileURLToPath)(new URL('../../profiles/', import.meta.url));
/** Files in a profiles directory that are not profiles. */
var NOT_PROFILES = new Set(['schema.json', 'package.json']);
function errorCode(error) {
    return error === null || error === void 0 ? void 0 : error.code;
}
/** Reads and checks one file; CARBONCP_BAD_DEVICE_PROFILE for invalid JSON, a schema break or an id that is not the file name. */
function loadDeviceProfileFile(file) {
    return __awaiter(this, void 0, void 0, function () {
        var text, error_1, code, json, profile, expected;
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0:
                    _a.trys.push([0, 2, , 3]);
                    return [4 /*yield*/, (0, promises_1.readFile)(file, 'utf8')];
                case 1:
                    text = _a.sent();
                    return [3 /*break*/, 3];
                case 2:
                    error_1 = _a.sent();
                    code = errorCode(error_1) === 'ENOENT' ? protocol_1.ErrorCode.NOT_FOUND : protocol_1.ErrorCode.IO;
                    throw new protocol_1.CarboncpError(code, "cannot read device profile ".concat(file, ": ").concat(error_1.message), { cause: error_1 });
                case 3:
                    try {
                        json = JSON.parse(text);
                    }
                    catch (error) {
                        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.BAD_DEVICE_PROFILE, "device profile ".concat(file, " is not valid JSON: ").concat(error.message), {
                            cause: error,
                            details: { field: '(json)', file: file },
                        });
                    }
                    try {
                        profile = (0, device_profile_js_1.parseDeviceProfile)(json);
                    }
                    catch (error) {
                        if (error instanceof protocol_1.CarboncpError) {
                            throw new protocol_1.CarboncpError(error.code, "".concat(file, ": ").concat(error.message), { cause: error, details: __assign(__assign({}, error.details), { file: file }) });
                        }
                        throw error;
                    }
                    expected = file.replace(/^.*[\\/]/, '').replace(/\.json$/, '');
                    if (profile.id !== expected) {
                        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.BAD_DEVICE_PROFILE, "".concat(file, ": id '").concat(profile.id, "' must equal the file name '").concat(expected, "'"), {
                            details: { field: 'id', file: file },
                        });
                    }
                    return [2 /*return*/, profile];
            }
        });
    });
}
/**
 * Every `*.json` profile in `dir` (default: the shipped copy), sorted by id. CARBONCP_NOT_FOUND
 * when the directory does not exist; the first bad file fails the whole load (a profile set with
 * a broken member is not silently partial).
 */
function loadDeviceProfiles() {
    return __awaiter(this, arguments, void 0, function (dir) {
        var names, error_2, code, files, profiles;
        if (dir === void 0) { dir = exports.SHIPPED_DEVICE_PROFILES_DIR; }
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0:
                    _a.trys.push([0, 2, , 3]);
                    return [4 /*yield*/, (0, promises_1.readdir)(dir)];
                case 1:
                    names = _a.sent();
                    return [3 /*break*/, 3];
                case 2:
                    error_2 = _a.sent();
                    code = errorCode(error_2) === 'ENOENT' ? protocol_1.ErrorCode.NOT_FOUND : protocol_1.ErrorCode.IO;
                    throw new protocol_1.CarboncpError(code, "cannot read the device profiles directory ".concat(dir, ": ").concat(error_2.message), { cause: error_2 });
                case 3:
                    files = names.filter(function (name) { return name.endsWith('.json') && !NOT_PROFILES.has(name); }).sort();
                    return [4 /*yield*/, Promise.all(files.map(function (name) { return loadDeviceProfileFile((0, node_path_1.join)(dir, name)); }))];
                case 4:
                    profiles = _a.sent();
                    return [2 /*return*/, profiles.sort(function (a, b) { return a.id.localeCompare(b.id); })];
            }
        });
    });
}
/** One profile by id from `dir` (default: the shipped copy); CARBONCP_NOT_FOUND listing the ids there when it is absent. */
function loadDeviceProfile(id_1) {
    return __awaiter(this, arguments, void 0, function (id, dir) {
        var profiles, found;
        if (dir === void 0) { dir = exports.SHIPPED_DEVICE_PROFILES_DIR; }
        return __generator(this, function (_a) {
            switch (_a.label) {
                case 0: return [4 /*yield*/, loadDeviceProfiles(dir)];
                case 1:
                    profiles = _a.sent();
                    found = profiles.find(function (profile) { return profile.id === id; });
                    if (!found) {
                        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.NOT_FOUND, "no device profile '".concat(id, "' in ").concat(dir, " (there are: ").concat(profiles.map(function (p) { return p.id; }).join(', '), ")"));
                    }
                    return [2 /*return*/, found];
            }
        });
    });
}
