/* JSON loading via jansson with one-line errors that name the file, line/column and field.
 *
 * Parsing rejects duplicate object keys (JSON_REJECT_DUPLICATES) and NUL characters inside
 * strings (jansson's default without JSON_ALLOW_NUL). Any JSON value is accepted at the top
 * level (JSON_DECODE_ANY), so callers can say "is not a JSON object" in their own words.
 *
 * Getters: a JSON null counts as absent for the _opt variants (HF configs often write
 * "pad_token_id": null); the required variants report a null as a wrong type. */
#include "mt_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *mt_json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

int mt_json_load_buf(const char *buf, size_t len, const char *what, json_t **out, mt_err *e) {
    *out = NULL;
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j)
        return mt_fail(e, MT_EFORMAT, "%s: malformed JSON at line %d column %d: %s", what, je.line, je.column,
                       je.text);
    *out = j;
    return MT_OK;
}

int mt_json_load_file(const char *path, json_t **out, mt_err *e) {
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = mt_read_file(path, &buf, &len, e);
    if (rc) return rc;
    rc = mt_json_load_buf(buf, len, path, out, e);
    free(buf);
    return rc;
}

/* Looks up `key`. When not `required`, an absent or null field gives MT_OK with *v = NULL. */
static int lookup(const json_t *obj, const char *key, const char *what, int required, json_t **v, mt_err *e) {
    *v = NULL;
    if (!json_is_object(obj))
        return mt_fail(e, MT_EFORMAT, "%s: expected a JSON object holding field '%s', got %s", what, key,
                       obj ? mt_json_type_name(obj) : "nothing");
    json_t *x = json_object_get(obj, key);
    if (!x || (!required && json_is_null(x))) {
        if (required) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s'", what, key);
        return MT_OK;
    }
    *v = x;
    return MT_OK;
}

static int get_int(const json_t *obj, const char *key, const char *what, int64_t *out, int required, mt_err *e) {
    json_t *v;
    int rc = lookup(obj, key, what, required, &v, e);
    if (rc || !v) return rc;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return MT_OK;
    }
    if (json_is_real(v)) { /* accept 768.0, reject 1.5 */
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
            *out = (int64_t)d;
            return MT_OK;
        }
        return mt_fail(e, MT_EFORMAT, "%s: field '%s' must be an integer, got %g", what, key, d);
    }
    return mt_fail(e, MT_EFORMAT, "%s: field '%s' must be an integer, got %s", what, key, mt_json_type_name(v));
}

static int get_num(const json_t *obj, const char *key, const char *what, double *out, int required, mt_err *e) {
    json_t *v;
    int rc = lookup(obj, key, what, required, &v, e);
    if (rc || !v) return rc;
    if (!json_is_number(v))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s' must be a number, got %s", what, key, mt_json_type_name(v));
    *out = json_number_value(v);
    return MT_OK;
}

static int get_str(const json_t *obj, const char *key, const char *what, const char **out, int required,
                   mt_err *e) {
    json_t *v;
    int rc = lookup(obj, key, what, required, &v, e);
    if (rc || !v) return rc;
    if (!json_is_string(v))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s' must be a string, got %s", what, key, mt_json_type_name(v));
    *out = json_string_value(v);
    return MT_OK;
}

int mt_json_int(const json_t *obj, const char *key, const char *what, int64_t *out, mt_err *e) {
    return get_int(obj, key, what, out, 1, e);
}

int mt_json_int_opt(const json_t *obj, const char *key, const char *what, int64_t *out, mt_err *e) {
    return get_int(obj, key, what, out, 0, e);
}

int mt_json_num(const json_t *obj, const char *key, const char *what, double *out, mt_err *e) {
    return get_num(obj, key, what, out, 1, e);
}

int mt_json_num_opt(const json_t *obj, const char *key, const char *what, double *out, mt_err *e) {
    return get_num(obj, key, what, out, 0, e);
}

int mt_json_bool_opt(const json_t *obj, const char *key, const char *what, int *out, mt_err *e) {
    json_t *v;
    int rc = lookup(obj, key, what, 0, &v, e);
    if (rc || !v) return rc;
    if (!json_is_boolean(v))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s' must be true or false, got %s", what, key, mt_json_type_name(v));
    *out = json_is_true(v);
    return MT_OK;
}

int mt_json_str(const json_t *obj, const char *key, const char *what, const char **out, mt_err *e) {
    return get_str(obj, key, what, out, 1, e);
}

int mt_json_str_opt(const json_t *obj, const char *key, const char *what, const char **out, mt_err *e) {
    return get_str(obj, key, what, out, 0, e);
}
