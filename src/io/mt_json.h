/* JSON via jansson, with errors that name the file, line/column and field path. */
#ifndef MT_JSON_H
#define MT_JSON_H

#include <jansson.h>
#include "mt_common.h"

/* Parses a file (rejects duplicate keys). Error: "<path>: malformed JSON at line L column C: ..." */
int mt_json_load_file(const char *path, json_t **out, mt_err *e);
/* Parses a buffer; `what` names it in errors (a path, or "safetensors header of <path>"). */
int mt_json_load_buf(const char *buf, size_t len, const char *what, json_t **out, mt_err *e);

/* "an object", "a string", ... for error messages. */
const char *mt_json_type_name(const json_t *v);

/* Typed getters: `what` is the file (or context) named in errors, `key` the field.
 * A missing field fails with MT_EFORMAT "<what>: missing field '<key>'" unless the _opt
 * variant is used, which leaves *out unchanged when absent and fails only on a wrong type. */
int mt_json_int(const json_t *obj, const char *key, const char *what, int64_t *out, mt_err *e);
int mt_json_int_opt(const json_t *obj, const char *key, const char *what, int64_t *out, mt_err *e);
int mt_json_num(const json_t *obj, const char *key, const char *what, double *out, mt_err *e);
int mt_json_num_opt(const json_t *obj, const char *key, const char *what, double *out, mt_err *e);
int mt_json_bool_opt(const json_t *obj, const char *key, const char *what, int *out, mt_err *e);
/* Returned strings are owned by the json object. */
int mt_json_str(const json_t *obj, const char *key, const char *what, const char **out, mt_err *e);
int mt_json_str_opt(const json_t *obj, const char *key, const char *what, const char **out, mt_err *e);

#endif
