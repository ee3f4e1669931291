/* Aggregation math of MATRICE against hand-computed values (METHOD.md 3.2-3.3), the result-file
 * checks, and localization on the planted-knowledge models (tests/golden/planted). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_json.h"
#include "mt_locate.h"
#include "mt_matrice.h"
#include "mt_test.h"

#define T(cond) CHECK(cond, "%s", #cond)

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

static void test_math(void) {
    float attr[4] = {1, 2, -1, 4}, A[4];
    T(mt_agg_normalize(attr, 4, A) == 4);
    T(A[0] == 0.25f && A[1] == 0.5f && A[2] == -0.25f && A[3] == 1);
    float neg[3] = {-1, 0, -3}, An[3] = {9, 9, 9};
    mt_agg_normalize(neg, 3, An);
    T(An[0] == 0 && An[1] == 0 && An[2] == 0); /* a query pointing at nothing */

    double w[3] = {1, 1, 2};
    T(near(mt_agg_n_eff(w, 3), 16.0 / 6, 1e-12));
    double w0[3] = {0, 0, 0};
    T(mt_agg_n_eff(w0, 3) == 0);

    /* rows q0 = [1, 0], q1 = [0, 0], q2 = [1, 1] with weights 1, 1, 2:
     * mu = [3/4, 1/2]; var = [(1/16 + 9/16 + 2/16)/4, (1/4 + 1/4 + 2/4)/4] = [3/16, 1/4] */
    float q0[2] = {1, 0}, q1[2] = {0, 0}, q2[2] = {1, 1};
    const float *rows[3] = {q0, q1, q2};
    float mu[2], sigma[2], s[2];
    T(mt_agg_stats(rows, w, 3, 2, mu, sigma) == 0);
    T(near(mu[0], 0.75, 1e-7) && near(mu[1], 0.5, 1e-7));
    T(near(sigma[0], sqrt(3.0 / 16), 1e-7) && near(sigma[1], 0.5, 1e-7));
    /* lower confidence bound with lambda 1, n_eff 8/3: 0.75 - 0.4330127/1.6329932, 0.5 - 0.5/1.6329932 */
    mt_agg_lcb(mu, sigma, 2, 16.0 / 6, 1.0, s);
    T(near(s[0], 0.4848350, 1e-6) && near(s[1], 0.1938138, 1e-6));
    /* threshold 0.2: neuron 0 is a knowledge neuron, neuron 1 just misses */
    T(s[0] > 0.2 && !(s[1] > 0.2));
    mt_agg_lcb(mu, sigma, 2, 16.0 / 6, 0.0, s); /* lambda 0: the plain weighted mean */
    T(s[0] == mu[0] && s[1] == mu[1]);
    /* unweighted (NULL) and all-zero weights (fallback to equal weights, reported) */
    T(mt_agg_stats(rows, NULL, 3, 2, mu, sigma) == 0);
    T(near(mu[0], 2.0 / 3, 1e-7) && near(sigma[0], sqrt(2.0 / 9), 1e-7));
    T(mt_agg_stats(rows, w0, 3, 2, mu, sigma) == 1);
    T(near(mu[0], 2.0 / 3, 1e-7) && near(mu[1], 1.0 / 3, 1e-7));
    /* one query: sigma 0, the score is the query's own */
    T(mt_agg_stats(rows, w, 1, 2, mu, sigma) == 0 && mu[0] == 1 && sigma[0] == 0);

    int count[2] = {0, 0};
    for (int q = 0; q < 3; q++) mt_agg_count_coarse(rows[q], 2, 0.5, count);
    T(count[0] == 2 && count[1] == 1);
    T(mt_agg_share_ok(7, 10, 0.7) && !mt_agg_share_ok(6, 10, 0.7));
    T(mt_agg_share_ok(3, 3, 1.0) && !mt_agg_share_ok(2, 3, 1.0));
    T(mt_agg_share_ok(2, 3, 0.6) && !mt_agg_share_ok(1, 3, 0.6) && !mt_agg_share_ok(0, 0, 0.0));
}

static void test_files(void) {
    char *n = mt_locate_file_name("P36:Q142:Q90");
    T(n && !strcmp(n, "P36_Q142_Q90.json"));
    free(n);
    n = mt_locate_file_name("../x y");
    T(n && !strcmp(n, "_._x_y.json")); /* no slash, no leading dot: stays a plain file in facts/ */
    free(n);

    static const struct {
        const char *doc, *want;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"schema\":\"other\"}", "field 'schema'"},
        {"{\"schema\":\"matrice.locate.v1\"}", "missing field 'fact'"},
        {"{\"schema\":\"matrice.locate.v1\",\"fact\":{},\"method\":\"kn\",\"options\":{},\"status\":\"ok\",\"n_layers\":2,"
         "\"d_ff\":4,\"queries\":[]}",
         "field 'fact.id'"},
        {"{\"schema\":\"matrice.locate.v1\",\"fact\":{\"id\":\"x\"},\"method\":\"kn\",\"options\":{},\"status\":\"odd\","
         "\"n_layers\":2,\"d_ff\":4,\"queries\":[]}",
         "field 'status'"},
        {"{\"schema\":\"matrice.locate.v1\",\"fact\":{\"id\":\"x\"},\"method\":\"kn\",\"options\":{},\"status\":\"failed\","
         "\"n_layers\":2,\"d_ff\":4,\"queries\":[]}",
         "missing field 'reason'"},
        {"{\"schema\":\"matrice.locate.v1\",\"fact\":{\"id\":\"x\"},\"method\":\"kn\",\"options\":{},\"status\":\"ok\","
         "\"n_layers\":2,\"d_ff\":4,\"queries\":[],\"languages\":{},\"lakn\":[{\"layer\":2,\"unit\":0}]}",
         "field 'lakn[0]' is not a neuron"},
        {"{\"schema\":\"matrice.locate.v1\",\"fact\":{\"id\":\"x\"},\"method\":\"kn\",\"options\":{},\"status\":\"ok\","
         "\"n_layers\":2,\"d_ff\":4,\"queries\":[],\"languages\":{\"en\":{\"neurons\":[{\"layer\":0,\"unit\":-1}]}},"
         "\"lakn\":[]}",
         "field 'languages.en.neurons[0]'"},
        {"{\"schema\":\"matrice.locate.v1\",\"fact\":{\"id\":\"x\"},\"method\":\"kn\",\"options\":{},\"status\":\"ok\","
         "\"n_layers\":-2,\"d_ff\":4,\"queries\":[]}",
         "out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = NULL;
        mt_err e = {0};
        int rc = mt_json_load_buf(bad[i].doc, strlen(bad[i].doc), "r.json", &j, &e);
        if (!rc) rc = mt_locate_result_check(j, "r.json", &e);
        T(rc == MT_EFORMAT);
        if (!strstr(e.msg, bad[i].want)) printf("FAIL case %zu: '%s' lacks '%s'\n", i, e.msg, bad[i].want);
        T(strstr(e.msg, bad[i].want) != NULL);
        json_decref(j);
    }
    const char *good = "{\"schema\":\"matrice.locate.v1\",\"fact\":{\"id\":\"x\"},\"method\":\"kn\",\"options\":{},"
                       "\"status\":\"ok\",\"n_layers\":2,\"d_ff\":4,\"queries\":[],\"languages\":{\"en\":{\"neurons\":"
                       "[{\"layer\":1,\"unit\":3}]}},\"lakn\":[{\"layer\":1,\"unit\":3,\"S\":0.5}]}";
    json_t *j = NULL;
    mt_err e = {0};
    T(mt_json_load_buf(good, strlen(good), "r.json", &j, &e) == MT_OK && mt_locate_result_check(j, "r.json", &e) == MT_OK);
    json_decref(j);
}

int main(void) {
    test_math();
    test_files();
    return mt_test_report();
}
