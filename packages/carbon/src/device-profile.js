"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MIN_SOURCE_LENGTH = exports.REFERENCE_DEVICE_PROFILE_ID = exports.DEVICE_CLASSES = exports.RADIO_KINDS = exports.DEVICE_PROFILE_SCHEMA_VERSION = void 0;
exports.parseDeviceProfile = parseDeviceProfile;
exports.estimatePowerW = estimatePowerW;
exports.powerModelSource = powerModelSource;
exports.radioEnergyJ = radioEnergyJ;
exports.relativeSpeed = relativeSpeed;
/**
 * Device profiles: what the calibrator knows about a class of device before it has measured
 * anything on it (idle and busy power, battery, the radios' energy per byte and tail, speed on a
 * named model). Profiles are JSON files (`devices/*.json` in the repository, a copy shipped in
 * this package's `profiles/`); `devices/schema.json` is their JSON Schema and this module is a
 * hand-written validator that agrees with it (a test runs both on every profile and on seeded
 * mutations of them). Every number is a `Quantity` that carries its unit, how it was obtained and
 * its source, so that an estimate built on a profile can say what it rests on.
 *
 * Platform-neutral: no file access here (`@carboncp/carbon/node` reads the directory).
 */
var protocol_1 = require("@carboncp/protocol");
exports.DEVICE_PROFILE_SCHEMA_VERSION = 1;
exports.RADIO_KINDS = ['wifi', 'lte', 'nr5g'];
exports.DEVICE_CLASSES = ['single-board', 'embedded-gpu', 'phone', 'laptop', 'server'];
/** The profile every `relativeSpeed` compares against unless told otherwise: this project's development machine, measured. */
exports.REFERENCE_DEVICE_PROFILE_ID = 'dev-machine';
var KINDS = ['measured', 'datasheet', 'published', 'derived', 'estimated', 'unknown'];
var ID_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** A source must say something checkable: at least this many characters. */
exports.MIN_SOURCE_LENGTH = 10;
function fail(field, problem, id) {
    throw new protocol_1.CarboncpError(protocol_1.ErrorCode.BAD_DEVICE_PROFILE, "device profile".concat(id ? " '".concat(id, "'") : '', ": ").concat(field, " ").concat(problem), {
        details: { field: field },
    });
}
function isRecord(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function checkKeys(value, field, allowed, id) {
    for (var _i = 0, _a = Object.keys(value); _i < _a.length; _i++) {
        var key = _a[_i];
        if (!allowed.includes(key))
            fail(field ? "".concat(field, ".").concat(key) : key, 'is not a known field', id);
    }
}
function record(value, field, id) {
    if (!isRecord(value))
        fail(field, 'must be an object', id);
    return value;
}
function nonEmptyString(value, field, id, minLength) {
    if (minLength === void 0) { minLength = 1; }
    if (typeof value !== 'string' || value.trim().length < minLength) {
        fail(field, minLength > 1 ? "must be a string of at least ".concat(minLength, " characters") : 'must be a non-empty string', id);
    }
    return value;
}
function quantity(value, field, unit, id, bounds) {
    if (bounds === void 0) { bounds = {}; }
    var q = record(value, field, id);
    checkKeys(q, field, ['value', 'unit', 'kind', 'source', 'how'], id);
    if (q.unit !== unit)
        fail("".concat(field, ".unit"), "must be '".concat(unit, "'"), id);
    if (typeof q.kind !== 'string' || !KINDS.includes(q.kind)) {
        fail("".concat(field, ".kind"), "must be one of ".concat(KINDS.join(', ')), id);
    }
    var kind = q.kind;
    nonEmptyString(q.source, "".concat(field, ".source"), id, exports.MIN_SOURCE_LENGTH);
    if (kind === 'unknown') {
        if (q.value !== null)
            fail("".concat(field, ".value"), "must be null when kind is 'unknown'", id);
    }
    else {
        if (typeof q.value !== 'number' || !Number.isFinite(q.value))
            fail("".concat(field, ".value"), 'must be a finite number', id);
        if (bounds.positive ? q.value <= 0 : q.value < 0)
            fail("".concat(field, ".value"), bounds.positive ? 'must be > 0' : 'must be >= 0', id);
    }
    if (kind === 'derived' || kind === 'estimated')
        nonEmptyString(q.how, "".concat(field, ".how"), id, exports.MIN_SOURCE_LENGTH);
    else if (q.how !== undefined)
        nonEmptyString(q.how, "".concat(field, ".how"), id);
    return q;
}
function radio(value, field, id) {
    var r = record(value, field, id);
    checkKeys(r, field, ['energyPerByteUpJ', 'energyPerByteDownJ', 'tailEnergyJ', 'promotionEnergyJ'], id);
    quantity(r.energyPerByteUpJ, "".concat(field, ".energyPerByteUpJ"), 'J/B', id);
    quantity(r.energyPerByteDownJ, "".concat(field, ".energyPerByteDownJ"), 'J/B', id);
    quantity(r.tailEnergyJ, "".concat(field, ".tailEnergyJ"), 'J', id);
    if (r.promotionEnergyJ !== undefined)
        quantity(r.promotionEnergyJ, "".concat(field, ".promotionEnergyJ"), 'J', id);
    return r;
}
/**
 * Checks a parsed JSON value against the device-profile schema (devices/schema.json) and returns
 * it typed. Throws CARBONCP_BAD_DEVICE_PROFILE naming the first bad field (message and
 * `details.field`, a dotted path such as `radios.lte.tailEnergyJ.unit`).
 */
function parseDeviceProfile(json) {
    var p = record(json, '(profile)');
    var id = typeof p.id === 'string' ? p.id : undefined;
    checkKeys(p, '', ['$schema', 'schemaVersion', 'id', 'name', 'class', 'cpu', 'cores', 'power', 'battery', 'radios', 'speed', 'notes'], id);
    if (p.$schema !== undefined)
        nonEmptyString(p.$schema, '$schema', id);
    if (p.schemaVersion !== exports.DEVICE_PROFILE_SCHEMA_VERSION)
        fail('schemaVersion', "must be ".concat(exports.DEVICE_PROFILE_SCHEMA_VERSION), id);
    if (typeof p.id !== 'string' || !ID_PATTERN.test(p.id))
        fail('id', 'must be a kebab-case string (a-z, 0-9, -)', id);
    nonEmptyString(p.name, 'name', id);
    if (typeof p.class !== 'string' || !exports.DEVICE_CLASSES.includes(p.class)) {
        fail('class', "must be one of ".concat(exports.DEVICE_CLASSES.join(', ')), id);
    }
    nonEmptyString(p.cpu, 'cpu', id);
    if (typeof p.cores !== 'number' || !Number.isInteger(p.cores) || p.cores < 1)
        fail('cores', 'must be an integer >= 1', id);
    var power = record(p.power, 'power', id);
    checkKeys(power, 'power', ['idleW', 'activeW'], id);
    // active >= idle is not checked here: JSON Schema cannot say it, and the schema and this
    // validator accept exactly the same files (the shipped profiles are checked for it in a test).
    quantity(power.idleW, 'power.idleW', 'W', id);
    quantity(power.activeW, 'power.activeW', 'W', id);
    if (p.battery !== null) {
        var battery = record(p.battery, 'battery', id);
        checkKeys(battery, 'battery', ['capacityWh'], id);
        quantity(battery.capacityWh, 'battery.capacityWh', 'Wh', id, { positive: true });
    }
    var radios = record(p.radios, 'radios', id);
    checkKeys(radios, 'radios', exports.RADIO_KINDS, id);
    for (var _i = 0, RADIO_KINDS_1 = exports.RADIO_KINDS; _i < RADIO_KINDS_1.length; _i++) {
        var kind = RADIO_KINDS_1[_i];
        if (radios[kind] !== undefined)
            radio(radios[kind], "radios.".concat(kind), id);
    }
    if (p.speed !== null) {
        var speed = record(p.speed, 'speed', id);
        checkKeys(speed, 'speed', ['model', 'input', 'runtime', 'latencyMs'], id);
        nonEmptyString(speed.model, 'speed.model', id);
        nonEmptyString(speed.input, 'speed.input', id);
        nonEmptyString(speed.runtime, 'speed.runtime', id);
        quantity(speed.latencyMs, 'speed.latencyMs', 'ms', id, { positive: true });
    }
    if (p.notes !== undefined)
        nonEmptyString(p.notes, 'notes', id);
    return p;
}
function known(q, field, profile) {
    if (q.value === null) {
        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, "device profile '".concat(profile.id, "': ").concat(field, " is unknown (").concat(q.source, ")"), { details: { field: field, profile: profile.id } });
    }
    return q.value;
}
/**
 * A model, not a measurement: device power at a CPU utilisation in [0, 1], linear from the
 * profile's idle power (0) to its active power (1). Real devices are not linear (DVFS steps,
 * race-to-idle), so anything built on this value is `estimated`; say so with
 * `powerModelSource(profile)`. CARBONCP_INVALID_ARGUMENT outside [0, 1];
 * CARBONCP_DEVICE_PROFILE_INCOMPLETE when the profile does not know idle or active power.
 */
function estimatePowerW(profile, utilisation) {
    if (!(utilisation >= 0 && utilisation <= 1)) {
        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.INVALID_ARGUMENT, "utilisation must be in [0, 1], got ".concat(utilisation));
    }
    var idle = known(profile.power.idleW, 'power.idleW', profile);
    var active = known(profile.power.activeW, 'power.activeW', profile);
    return idle + (active - idle) * utilisation;
}
/** The source label of a value from estimatePowerW: the model and the profile it rests on. */
function powerModelSource(profile) {
    return "linear power model (idle -> active) of device profile '".concat(profile.id, "'");
}
/**
 * A model, not a measurement: energy (J) the named radio spends on one burst of `bytesUp` sent
 * and `bytesDown` received: bytes x energy per byte each way, plus the tail (and the promotion,
 * where known) once per burst. Back-to-back bursts share one tail; pass `{ tail: false }` for
 * all but the last. CARBONCP_INVALID_ARGUMENT for negative or non-integer byte counts or a radio
 * the profile lacks; CARBONCP_DEVICE_PROFILE_INCOMPLETE for an unknown number it needs.
 */
function radioEnergyJ(profile, radioKind, bytesUp, bytesDown, options) {
    var _a, _b;
    if (options === void 0) { options = {}; }
    for (var _i = 0, _c = [['bytesUp', bytesUp], ['bytesDown', bytesDown]]; _i < _c.length; _i++) {
        var _d = _c[_i], name_1 = _d[0], bytes = _d[1];
        if (!Number.isSafeInteger(bytes) || bytes < 0) {
            throw new protocol_1.CarboncpError(protocol_1.ErrorCode.INVALID_ARGUMENT, "".concat(name_1, " must be a non-negative integer, got ").concat(bytes));
        }
    }
    var r = profile.radios[radioKind];
    if (!r) {
        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.INVALID_ARGUMENT, "device profile '".concat(profile.id, "' has no ").concat(radioKind, " radio (it has: ").concat(Object.keys(profile.radios).join(', ') || 'none', ")"));
    }
    var field = "radios.".concat(radioKind);
    var joules = bytesUp * known(r.energyPerByteUpJ, "".concat(field, ".energyPerByteUpJ"), profile) +
        bytesDown * known(r.energyPerByteDownJ, "".concat(field, ".energyPerByteDownJ"), profile);
    if ((_a = options.tail) !== null && _a !== void 0 ? _a : true)
        joules += known(r.tailEnergyJ, "".concat(field, ".tailEnergyJ"), profile);
    if (((_b = options.promotion) !== null && _b !== void 0 ? _b : true) && r.promotionEnergyJ) {
        joules += known(r.promotionEnergyJ, "".concat(field, ".promotionEnergyJ"), profile);
    }
    return joules;
}
/**
 * How many times faster `profile` runs its speed model than `reference` runs the same model
 * (reference latency / profile latency; > 1 is faster). Both need a known latency on the same
 * model: CARBONCP_DEVICE_PROFILE_INCOMPLETE otherwise. Latencies from different runtimes (a
 * phone's TFLite against onnxruntime) compare hardware and runtime together; read them so.
 */
function relativeSpeed(profile, reference) {
    var speed = profile.speed;
    var ref = reference.speed;
    if (!speed || !ref) {
        var missing = !speed ? profile : reference;
        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, "device profile '".concat(missing.id, "': speed is null (no latency on a zoo model)"), {
            details: { field: 'speed', profile: missing.id },
        });
    }
    if (speed.model !== ref.model) {
        throw new protocol_1.CarboncpError(protocol_1.ErrorCode.DEVICE_PROFILE_INCOMPLETE, "device profile '".concat(profile.id, "': speed.model is ").concat(speed.model, ", the reference '").concat(reference.id, "' has ").concat(ref.model), { details: { field: 'speed.model', profile: profile.id } });
    }
    return known(ref.latencyMs, 'speed.latencyMs', reference) / known(speed.latencyMs, 'speed.latencyMs', profile);
}
