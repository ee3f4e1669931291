/* Planted-knowledge models (tests/golden/planted, tools/make_planted.py): weights constructed so
 * that known FFN units carry each fact's answer in three artificial languages. Checks with the
 * C library alone that
 *   - every query of every fact in every language predicts the answer top-1;
 *   - IG (AMIG baseline, and KN's zero baseline) ranks exactly the fact's planted units first:
 *     the shared units in every language, plus the one-language unit in its language only,
 *     with a wide margin over every other unit (the planted truth is in truth.json). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_cloze.h"
#include "mt_ig.h"
#include "mt_model.h"
#include "mt_test.h"
#include "mt_tokenizer.h"

#define DIR "tests/golden/planted"
#define MAXU 8

/* The margin: the weakest expected unit must score this many times the strongest other unit. */
#define MARGIN 5.0

typedef struct {
    int n;
    int layer[MAXU], unit[MAXU];
} unit_set;

static int in_set(const unit_set *s, int l, int u) {
    for (int i = 0; i < s->n; i++)
        if (s->layer[i] == l && s->unit[i] == u) return 1;
    return 0;
}

/* The expected set for a fact in a language: shared units + the one-language unit there
 * (lang NULL: in any language). */
static unit_set expected(json_t *tf, const char *lang) {
    unit_set s = {0};
    json_t *sh = json_object_get(tf, "shared"), *p;
    size_t i;
    json_array_foreach(sh, i, p) {
        if (s.n < MAXU) {
            s.layer[s.n] = (int)json_integer_value(json_array_get(p, 0));
            s.unit[s.n++] = (int)json_integer_value(json_array_get(p, 1));
        }
    }
    json_t *one = json_object_get(tf, "one_lang");
    if (json_is_object(one) && (!lang || !strcmp(json_string_value(json_object_get(one, "lang")), lang)) &&
        s.n < MAXU) {
        json_t *u = json_object_get(one, "unit");
        s.layer[s.n] = (int)json_integer_value(json_array_get(u, 0));
        s.unit[s.n++] = (int)json_integer_value(json_array_get(u, 1));
    }
    return s;
}

/* Whether the top |want| scores are exactly want, with the margin; describes a failure in why. */
static int ranks_first(const float *scores, int L, int F, const unit_set *want, char *why, size_t nwhy) {
    double min_in = INFINITY, max_out = -INFINITY;
    int lo_l = -1, lo_u = -1, hi_l = -1, hi_u = -1;
    for (int l = 0; l < L; l++)
        for (int u = 0; u < F; u++) {
            double s = scores[(size_t)l * F + u];
            if (in_set(want, l, u)) {
                if (s < min_in) min_in = s, lo_l = l, lo_u = u;
            } else if (s > max_out) {
                max_out = s, hi_l = l, hi_u = u;
            }
        }
    snprintf(why, nwhy, "weakest planted %d:%d = %.4g, strongest other %d:%d = %.4g", lo_l, lo_u, min_in, hi_l, hi_u,
             max_out);
    return min_in > 0 && min_in > MARGIN * fmax(max_out, 0);
}

/* Whether any fact of the model owns (layer, unit), in any language. */
static int owned(json_t *tm, int l, int u) {
    size_t i;
    json_t *of;
    json_array_foreach(json_object_get(tm, "facts"), i, of) {
        unit_set s = expected(of, NULL);
        if (in_set(&s, l, u)) return 1;
    }
    return 0;
}

/* Suppression through the patch point, one layer at a time (the library's unit of patching):
 * zeroing the fact's planted units of one layer must cut P(answer) by at least a quarter;
 * zeroing as many units that no fact owns must change it by under 2%. */
static void check_suppress(const mt_model *m, const mt_cloze *c, json_t *tm, json_t *tf, const char *lang,
                           const char *what) {
    const mt_config *cfg = mt_model_config(m);
    const int F = cfg->d_ff, pos = c->answer_pos[0];
    unit_set want = expected(tf, lang);
    mt_run *r = NULL;
    mt_err e;
    float *z = malloc(sizeof(float) * F), *dz = malloc(sizeof(float) * F), *a = malloc(sizeof(float) * F);
    if (!z || !dz || !a || mt_run_new(m, c->T, 1, &r, &e) || mt_forward(m, r, c->ids, NULL, c->T, &e)) {
        CHECK(0, "%s: %s", what, z && dz && a ? e.msg : "out of memory");
        goto done;
    }
    for (int l = 0; l < cfg->n_layers; l++) {
        int n = 0;
        for (int k = 0; k < want.n; k++) n += want.layer[k] == l;
        if (!n) continue;
        memcpy(a, mt_run_ffn_act(r, l, pos), sizeof(float) * F);
        float p0, p1, p2;
        memcpy(z, a, sizeof(float) * F);
        int rc = mt_patch_grad(m, r, l, pos, z, 1, c->answer_ids[0], 0, &p0, dz, &e);
        for (int k = 0; k < want.n; k++)
            if (want.layer[k] == l) z[want.unit[k]] = 0;
        rc = rc ? rc : mt_patch_grad(m, r, l, pos, z, 1, c->answer_ids[0], 0, &p1, dz, &e);
        /* n units of this layer that no fact owns, picked deterministically */
        memcpy(z, a, sizeof(float) * F);
        int picked = 0;
        for (int u = (l * 7 + 3) % F, tries = 0; picked < n && tries < F; u = (u + 5) % F, tries++) {
            if (!owned(tm, l, u)) z[u] = 0, picked++;
        }
        rc = rc ? rc : mt_patch_grad(m, r, l, pos, z, 1, c->answer_ids[0], 0, &p2, dz, &e);
        if (rc) {
            CHECK(0, "%s layer %d: %s", what, l, e.msg);
            continue;
        }
        CHECK(p1 < 0.75 * p0, "%s layer %d: zeroing the %d planted units leaves P = %.4f of %.4f", what, l, n, p1, p0);
        CHECK(fabs(p2 - p0) < 0.02 * p0, "%s layer %d: zeroing %d unplanted units moves P from %.4f to %.4f", what, l,
              n, p0, p2);
    }
done:
    mt_run_free(r);
    free(z);
    free(dz);
    free(a);
}

static void check_model(const char *name, json_t *facts, json_t *truth) {
    char dir[256];
    snprintf(dir, sizeof dir, DIR "/%s", name);
    mt_err e;
    mt_model *m = NULL;
    mt_tokenizer *tok = NULL;
    if (mt_model_load(dir, &m, &e) || mt_tok_load(dir, &tok, &e)) {
        CHECK(0, "%s: %s", dir, e.msg);
        mt_model_free(m);
        return;
    }
    const mt_config *cfg = mt_model_config(m);
    json_t *tm = json_object_get(json_object_get(truth, "models"), name);
    json_t *tfacts = json_object_get(tm, "facts");
    CHECK(json_array_size(tfacts) == json_array_size(facts), "%s: truth.json has %zu facts, planted.jsonl %zu", name,
          json_array_size(tfacts), json_array_size(facts));
    CHECK(cfg->n_layers == json_integer_value(json_object_get(tm, "n_layers")) &&
              cfg->d_ff == json_integer_value(json_object_get(tm, "d_ff")),
          "%s: shape differs from truth.json", name);
    int n_top1 = 0, n_q = 0, n_ig = 0, n_ig_ok = 0;
    for (size_t fi = 0; fi < json_array_size(facts) && fi < json_array_size(tfacts); fi++) {
        json_t *fact = json_array_get(facts, fi), *tf = json_array_get(tfacts, fi);
        const char *id = json_string_value(json_object_get(fact, "id"));
        CHECK(!strcmp(id, json_string_value(json_object_get(tf, "id"))), "%s: fact %zu is %s in truth.json", name, fi,
              json_string_value(json_object_get(tf, "id")));
        const char *lang;
        json_t *L;
        json_object_foreach(json_object_get(fact, "langs"), lang, L) {
            const char *obj = json_string_value(json_object_get(L, "object"));
            unit_set want = expected(tf, lang);
            size_t qi;
            json_t *q;
            json_array_foreach(json_object_get(L, "queries"), qi, q) {
                const char *text = json_string_value(json_object_get(q, "text"));
                mt_cloze c;
                if (mt_cloze_make(tok, cfg, text, obj, &c, &e)) {
                    CHECK(0, "%s %s '%s': %s", name, id, text, e.msg);
                    continue;
                }
                CHECK(c.n_answer == 1, "%s '%s': answer '%s' has %d tokens", name, text, obj, c.n_answer);
                mt_query mq = mt_cloze_query(&c);
                double p[4] = {0};
                int top1[4] = {0};
                n_q++;
                if (c.n_answer == 1 && !mt_answer_scores(m, &mq, p, top1, &e)) {
                    n_top1 += top1[0];
                    CHECK(top1[0], "%s '%s': '%s' is not top-1 (p = %.4f)", name, text, obj, p[0]);
                } else if (c.n_answer == 1) {
                    CHECK(0, "%s '%s': %s", name, text, e.msg);
                }
                if (qi == 0 && c.n_answer == 1) {
                    char what[256];
                    snprintf(what, sizeof what, "%s %s '%s'", name, id, text);
                    check_suppress(m, &c, tm, tf, lang, what);
                }
                /* IG: AMIG on every query, KN (zero baseline) on the first of each language */
                for (int method = 0; method < (qi == 0 ? 2 : 1); method++) {
                    mt_ig_opts o;
                    mt_ig_opts_default(&o);
                    o.baseline = method == 0 ? MT_BASELINE_AMIG : MT_BASELINE_ZERO;
                    mt_ig_result r;
                    if (mt_ig_attribute(m, &mq, &o, &r, &e)) {
                        CHECK(0, "%s '%s': %s", name, text, e.msg);
                        continue;
                    }
                    char why[256];
                    int ok = ranks_first(r.scores, r.n_layers, r.d_ff, &want, why, sizeof why);
                    n_ig++;
                    n_ig_ok += ok;
                    CHECK(ok, "%s %s '%s': %s does not rank the %d planted units first: %s", name, id, text,
                          method == 0 ? "AMIG" : "KN", want.n, why);
                    mt_ig_result_free(&r);
                }
                mt_cloze_free(&c);
            }
        }
    }
    printf("%s: %d/%d queries top-1, %d/%d attributions rank the planted units first\n", name, n_top1, n_q, n_ig_ok,
           n_ig);
    CHECK(n_q == 96, "%s: %d queries (8 facts x 3 languages x 4 templates expected)", name, n_q);
    mt_tok_free(tok);
    mt_model_free(m);
}

int main(void) {
    json_error_t je;
    json_t *truth = json_load_file(DIR "/truth.json", 0, &je);
    CHECK(truth != NULL, DIR "/truth.json: %s", je.text);
    FILE *fh = fopen(DIR "/planted.jsonl", "r");
    CHECK(fh != NULL, DIR "/planted.jsonl: cannot open");
    json_t *facts = json_array();
    char line[65536];
    int ln = 0;
    while (fh && fgets(line, sizeof line, fh)) {
        if (ln++ == 0) continue; /* header */
        json_t *j = json_loads(line, 0, &je);
        CHECK(j != NULL, DIR "/planted.jsonl:%d: %s", ln, je.text);
        if (j) json_array_append_new(facts, j);
    }
    if (fh) fclose(fh);
    CHECK(json_array_size(facts) == 8, "planted.jsonl: %zu facts", json_array_size(facts));
    if (truth) {
        check_model("bert", facts, truth);
        check_model("llama", facts, truth);
    }
    json_decref(facts);
    json_decref(truth);
    return mt_test_report();
}
