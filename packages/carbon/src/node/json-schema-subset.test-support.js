"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SchemaValidator = void 0;
var ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
var IMPLEMENTED = new Set([
    '$ref',
    'type',
    'properties',
    'required',
    'additionalProperties',
    'enum',
    'const',
    'minimum',
    'exclusiveMinimum',
    'pattern',
    'oneOf',
    'allOf',
]);
function typeOf(value) {
    if (value === null)
        return 'null';
    if (Array.isArray(value))
        return 'array';
    return typeof value;
}
function hasType(value, type) {
    if (type === 'integer')
        return typeof value === 'number' && Number.isInteger(value);
    return typeOf(value) === type;
}
function deepEqual(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
}
var SchemaValidator = /** @class */ (function () {
    function SchemaValidator(root) {
        this.root = root;
        this.checkKeywords(root);
    }
    SchemaValidator.prototype.checkKeywords = function (schema) {
        if (typeof schema !== 'object' || schema === null)
            return;
        for (var _i = 0, _a = Object.entries(schema); _i < _a.length; _i++) {
            var _b = _a[_i], key = _b[0], value = _b[1];
            if (!ANNOTATIONS.has(key) && !IMPLEMENTED.has(key))
                throw new Error("schema keyword '".concat(key, "' is not implemented"));
            if (key === '$defs' || key === 'properties')
                for (var _c = 0, _d = Object.values(value); _c < _d.length; _c++) {
                    var sub = _d[_c];
                    this.checkKeywords(sub);
                }
            else if (key === 'oneOf' || key === 'allOf')
                for (var _e = 0, _f = value; _e < _f.length; _e++) {
                    var sub = _f[_e];
                    this.checkKeywords(sub);
                }
            else if (key === 'additionalProperties' && value !== false)
                throw new Error('only additionalProperties: false is implemented');
        }
    };
    SchemaValidator.prototype.resolve = function (ref) {
        if (!ref.startsWith('#/'))
            throw new Error("only local $ref is implemented: ".concat(ref));
        var node = this.root;
        for (var _i = 0, _a = ref.slice(2).split('/'); _i < _a.length; _i++) {
            var part = _a[_i];
            node = node[part];
        }
        if (node === undefined)
            throw new Error("unresolved $ref ".concat(ref));
        return node;
    };
    /** The first error found (a JSON pointer-ish path and what failed), or null when valid. */
    SchemaValidator.prototype.validate = function (value, schema, path) {
        var _this = this;
        var _a, _b;
        if (schema === void 0) { schema = this.root; }
        if (path === void 0) { path = ''; }
        if (schema === true)
            return null;
        if (schema === false)
            return "".concat(path, ": false schema");
        var s = schema;
        if (typeof s.$ref === 'string') {
            var error = this.validate(value, this.resolve(s.$ref), path);
            if (error)
                return error;
        }
        if (s.type !== undefined) {
            var types = Array.isArray(s.type) ? s.type : [s.type];
            if (!types.some(function (t) { return hasType(value, t); }))
                return "".concat(path, ": type ").concat(typeOf(value), " not in ").concat(types.join('|'));
        }
        if (s.enum !== undefined && !s.enum.some(function (e) { return deepEqual(e, value); }))
            return "".concat(path, ": not in enum");
        if (s.const !== undefined && !deepEqual(s.const, value))
            return "".concat(path, ": not the const");
        if (typeof value === 'number') {
            if (typeof s.minimum === 'number' && value < s.minimum)
                return "".concat(path, ": below minimum");
            if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum)
                return "".concat(path, ": not above exclusiveMinimum");
        }
        if (typeof value === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) {
            return "".concat(path, ": does not match ").concat(s.pattern);
        }
        if (typeOf(value) === 'object') {
            var object = value;
            for (var _i = 0, _c = (_a = s.required) !== null && _a !== void 0 ? _a : []; _i < _c.length; _i++) {
                var key = _c[_i];
                if (!(key in object))
                    return "".concat(path, ": missing ").concat(key);
            }
            var properties = (_b = s.properties) !== null && _b !== void 0 ? _b : {};
            for (var _d = 0, _e = Object.entries(properties); _d < _e.length; _d++) {
                var _f = _e[_d], key = _f[0], sub = _f[1];
                if (key in object) {
                    var error = this.validate(object[key], sub, "".concat(path, "/").concat(key));
                    if (error)
                        return error;
                }
            }
            if (s.additionalProperties === false) {
                for (var _g = 0, _h = Object.keys(object); _g < _h.length; _g++) {
                    var key = _h[_g];
                    if (!(key in properties))
                        return "".concat(path, "/").concat(key, ": additional property");
                }
            }
        }
        if (Array.isArray(s.allOf)) {
            for (var _j = 0, _k = s.allOf; _j < _k.length; _j++) {
                var sub = _k[_j];
                var error = this.validate(value, sub, path);
                if (error)
                    return error;
            }
        }
        if (Array.isArray(s.oneOf)) {
            var passing = s.oneOf.filter(function (sub) { return _this.validate(value, sub, path) === null; }).length;
            if (passing !== 1)
                return "".concat(path, ": ").concat(passing, " oneOf branches match (need exactly 1)");
        }
        return null;
    };
    return SchemaValidator;
}());
exports.SchemaValidator = SchemaValidator;
