/* replay-loader: the sync check (upstream-behaviour.md §4.2 step 1, where upstream
 * discards the answer and warns every time, al-rest-api.md §11 B7).
 *
 * metadata.bundle.loaded is a keyword (a string) on a real server, so date math
 * (`now-1h`) never matches it; the query uses an ISO lower bound, cut to whole
 * seconds and without "Z", so it sorts before every time stamp of that second
 * whatever its fraction. Both indices are asked: a submission bundle carries no
 * alert. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loader.h"
#include "replay/log.h"

/* The check may wait this long on a silent target before it gives up. */
#define SYNC_LOW_SPEED_S 30u

int loader_sync_open(struct loader_sync *s, const struct replay_config *cfg,
                     const struct replay_cancel *cancel, struct replay_err *err)
{
    struct replay_alclient_options o;
    replay_alclient_options_from_config(&o, &cfg->loader.client);
    o.cancel = cancel;
    o.retry.max_attempts = 2;
    o.low_speed_time_s = SYNC_LOW_SPEED_S;
    s->interval_ms = (uint64_t)cfg->loader.sync_check_interval * 1000u;
    s->next_ms = replay_now_ms() + s->interval_ms;
    replay_isotime_now(&s->since);
    return replay_alclient_open(&o, &s->client, err);
}

/* Documents of `index` loaded since `bound`; -1 with err set on failure. */
static long long loaded_since(struct loader_sync *s, const char *index, const char *query,
                              struct replay_err *err)
{
    struct replay_alclient_search q = {.query = query, .rows = 0, .track_total_hits = true};
    struct replay_alclient_page page;
    int code = replay_alclient_search(s->client, index, &q, &page, err);
    long long total = code == 0 ? page.total : -1;
    replay_alclient_page_clear(&page);
    return total;
}

void loader_sync_check(struct loader_sync *s)
{
    if (replay_now_ms() < s->next_ms)
        return;
    s->next_ms = replay_now_ms() + s->interval_ms;
    struct replay_isotime started;
    struct replay_err err = {0};
    struct tm tm;
    char bound[32], query[96];
    replay_isotime_now(&started);
    time_t t = (time_t)s->since.sec;
    gmtime_r(&t, &tm);
    strftime(bound, sizeof(bound), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(query, sizeof(query), "metadata.bundle.loaded:[%s TO *]", bound);
    long long alerts = loaded_since(s, "alert", query, &err);
    long long submissions = alerts >= 0 ? loaded_since(s, "submission", query, &err) : -1;
    if (alerts < 0 || submissions < 0) {
        replay_warn("Cannot check whether the target loaded new bundles: %s", err.msg);
        return; /* the next check covers this interval too */
    }
    if (alerts == 0 && submissions == 0)
        replay_warn("Haven't received a new bundle since the last check!");
    else
        replay_debug("The target loaded %lld alert(s) and %lld submission(s) since %s", alerts,
                     submissions, bound);
    s->since = started;
}

void loader_sync_close(struct loader_sync *s)
{
    replay_alclient_close(s->client);
    s->client = NULL;
}
