/* test_sample.c — the sampler chain: greedy, penalties, top-k / top-p / min-p, seeds. */
#include "sample/sample.h"
#include "tap.h"

static hearth_sampler_params params(void) {
    hearth_sampler_params p;
    hearth_sampler_params_default(&p);
    return p;
}

static void test_greedy(void) {
    hearth_sampler_params p = params();
    p.temp = 0.0f;
    sampler *s = sampler_create(&p, 6);
    REQUIRE(s);
    float lg[6] = { 0.1f, 3.0f, -1.0f, 2.9f, 3.0f, 0.0f };
    CHECK(sampler_sample(s, lg) == 1); /* lowest id on ties */
    sampler_free(s);
}

static void test_repeat_penalty(void) {
    hearth_sampler_params p = params();
    p.temp = 0.0f;
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    sampler *s = sampler_create(&p, 4);
    REQUIRE(s);
    float lg[4] = { 1.0f, 3.0f, 2.0f, -1.0f };
    sampler_accept(s, 1);
    CHECK(sampler_sample(s, lg) == 2); /* 3/2 = 1.5 < 2 */
    sampler_accept(s, 0);
    sampler_accept(s, 0); /* window of 2: token 1 left it */
    CHECK(sampler_sample(s, lg) == 1);
    sampler_free(s);
    /* presence / frequency: logit -= count*freq + presence */
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 8;
    p.frequency_penalty = 0.6f;
    p.presence_penalty = 0.1f;
    s = sampler_create(&p, 4);
    REQUIRE(s);
    sampler_accept(s, 1);
    sampler_accept(s, 1); /* 3 - 1.2 - 0.1 = 1.7 < 2 */
    CHECK(sampler_sample(s, lg) == 2);
    sampler_free(s);
}

static void test_filters_and_seed(void) {
    hearth_sampler_params p = params();
    p.temp = 1.0f;
    p.top_k = 1;
    sampler *s = sampler_create(&p, 5);
    REQUIRE(s);
    float lg[5] = { 0.0f, 1.0f, 0.5f, 0.9f, 0.2f };
    for (int i = 0; i < 50; i++) CHECK(sampler_sample(s, lg) == 1);
    sampler_free(s);
    /* min-p 0.95 keeps tokens within log(0.95) = -0.051 of the best logit: only token 1 */
    p.top_k = 0;
    p.min_p = 0.95f;
    s = sampler_create(&p, 5);
    for (int i = 0; i < 50; i++) CHECK(sampler_sample(s, lg) == 1);
    sampler_free(s);
    /* top-p small keeps only the best */
    p.min_p = 0.0f;
    p.top_p = 0.01f;
    s = sampler_create(&p, 5);
    for (int i = 0; i < 50; i++) CHECK(sampler_sample(s, lg) == 1);
    sampler_free(s);
    /* the same seed gives the same sequence; all tokens reachable */
    p.top_p = 1.0f;
    p.seed = 42;
    sampler *a = sampler_create(&p, 5), *b = sampler_create(&p, 5);
    int seen[5] = { 0 };
    for (int i = 0; i < 500; i++) {
        int32_t x = sampler_sample(a, lg), y = sampler_sample(b, lg);
        CHECK(x == y);
        seen[x]++;
    }
    for (int i = 0; i < 5; i++) CHECK(seen[i] > 0);
    CHECK(seen[1] > seen[4]);
    sampler_free(a);
    sampler_free(b);
}

int main(void) {
    RUN(test_greedy);
    RUN(test_repeat_penalty);
    RUN(test_filters_and_seed);
    return tap_done();
}
