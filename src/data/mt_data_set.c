#include <stdlib.h>
#include <string.h>

#include "mt_data.h"

typedef struct {
    mt_dataset *d;
} load_ctx;

static int add_line(void *ctx, int is_header, long lineno, json_t *j, const char *line, size_t len, mt_err *e) {
    mt_dataset *d = ((load_ctx *)ctx)->d;
    if (is_header) {
        d->header = json_incref(j);
        size_t i;
        const json_t *l;
        json_array_foreach(json_object_get(j, "languages"), i, l) {
            const char *c = json_string_value(json_object_get(l, "code"));
            if (c) json_array_append_new(d->langs, json_string(c));
        }
        return MT_OK;
    }
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *rel = json_string_value(json_object_get(j, "relation"));
    if (!id || !rel || !json_is_object(json_object_get(j, "langs")))
        return mt_fail(e, MT_EFORMAT, "%s:%ld: field '%s': missing or not %s", d->path, lineno,
                       !id ? "id" : !rel ? "relation" : "langs", !id || !rel ? "a string" : "an object");
    if (json_object_get(d->index, id)) return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'id': '%s' appears twice", d->path, lineno, id);
    json_object_set_new(d->index, id, json_integer((json_int_t)json_array_size(d->facts)));
    json_array_append(d->facts, j);
    return MT_OK;
}

int mt_dataset_load(const char *path, mt_dataset *d, mt_err *e) {
    memset(d, 0, sizeof *d);
    d->path = strdup(path);
    d->facts = json_array();
    d->index = json_object();
    d->langs = json_array();
    if (!d->path || !d->facts || !d->index || !d->langs) {
        mt_dataset_free(d);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    load_ctx c = {d};
    int rc = mt_data_each_line(path, add_line, &c, e);
    if (!rc && json_array_size(d->langs) == 0)
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'languages': the header lists no language", path);
    if (rc) mt_dataset_free(d);
    return rc;
}

const json_t *mt_dataset_fact(const mt_dataset *d, const char *id) {
    const json_t *i = json_object_get(d->index, id);
    return i ? json_array_get(d->facts, (size_t)json_integer_value(i)) : NULL;
}

int mt_dataset_check_langs(const mt_dataset *d, const char *const *codes, int n, mt_err *e) {
    for (int k = 0; k < n; k++) {
        size_t i;
        json_t *c;
        int hit = 0;
        json_array_foreach(d->langs, i, c) hit |= !strcmp(json_string_value(c), codes[k]);
        if (hit) continue;
        char have[256] = "";
        json_array_foreach(d->langs, i, c) {
            if (i) strncat(have, ",", sizeof have - strlen(have) - 1);
            strncat(have, json_string_value(c), sizeof have - strlen(have) - 1);
        }
        return mt_fail(e, MT_EINVAL, "%s: language '%s' is not in the data file (it has %s)", d->path, codes[k], have);
    }
    return MT_OK;
}

void mt_dataset_free(mt_dataset *d) {
    free(d->path);
    json_decref(d->header);
    json_decref(d->facts);
    json_decref(d->index);
    json_decref(d->langs);
    memset(d, 0, sizeof *d);
}
