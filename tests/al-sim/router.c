/* router: the route table of al-sim, matched as Flask/Werkzeug would (see alsim.h). */
#include "alsim.h"

#include <stdlib.h>
#include <string.h>

#define SEARCH_ROLES "alert_view,heuristic_view,safelist_view,signature_view," \
                     "submission_view,workflow_view,retrohunt_view,badlist_view"

/* Order matters where patterns overlap: the first route matching path and method
 * wins, as Werkzeug prefers static segments over variables. */
static const struct alsim_route ROUTES[] = {
    {"GET", "/api/", alsim_h_versions, NULL, ROUTE_AUTH},
    {"POST", "/api/v4/auth/login/", alsim_h_login, NULL, 0},
    {"GET", "/api/v4/auth/logout/", alsim_h_logout, NULL, ROUTE_AUTH},
    {"GET,POST", "/api/v4/search/*/", alsim_h_search, SEARCH_ROLES, ROUTE_AUTH},
    {"GET,PUT", "/api/v4/replay/queue/*/", alsim_h_queue, "replay_system",
     ROUTE_AUTH | ROUTE_REPLAY},
    {"GET,PUT", "/api/v4/replay/checkpoint/*/", alsim_h_checkpoint, "replay_system",
     ROUTE_AUTH | ROUTE_REPLAY},
    {"POST", "/api/v4/replay/pending/", alsim_h_pending, "replay_system",
     ROUTE_AUTH | ROUTE_REPLAY},
    {"GET", "/api/v4/replay/*/*/", alsim_h_replay_request, "replay_trigger",
     ROUTE_AUTH | ROUTE_REPLAY},
    {"POST", "/api/v4/replay/*/*/", alsim_h_replay_complete, "replay_system",
     ROUTE_AUTH | ROUTE_REPLAY},
    {"POST", "/api/v4/bundle/", alsim_h_bundle_import, "submission_create",
     ROUTE_AUTH | ROUTE_WRITE | ROUTE_FILE},
    {"GET", "/api/v4/bundle/*/", alsim_h_bundle_create, "bundle_download", ROUTE_AUTH},
    {"POST,PUT", "/api/v4/badlist/", alsim_h_hashlist_add, "badlist_manage",
     ROUTE_AUTH | ROUTE_WRITE},
    {"GET", "/api/v4/badlist/*/", alsim_h_badlist_get, "badlist_view", ROUTE_AUTH},
    {"POST,PUT", "/api/v4/safelist/", alsim_h_hashlist_add, "safelist_manage",
     ROUTE_AUTH | ROUTE_WRITE},
    {"GET", "/api/v4/safelist/*/", alsim_h_safelist_get, "safelist_view", ROUTE_AUTH},
    {"POST,PUT", "/api/v4/signature/add_update/", alsim_h_signature_add, "signature_import",
     ROUTE_AUTH | ROUTE_WRITE},
    {"GET", "/api/v4/signature/*/", alsim_h_signature_get, "signature_view",
     ROUTE_AUTH | ROUTE_WRITE},
    {"PUT", "/api/v4/workflow/", alsim_h_workflow_add, "workflow_manage",
     ROUTE_AUTH | ROUTE_WRITE},
    {"GET", "/api/v4/workflow/*/", alsim_h_workflow_get, "workflow_view",
     ROUTE_AUTH | ROUTE_WRITE},
    {"POST", "/api/v4/workflow/*/", alsim_h_workflow_update, "workflow_manage",
     ROUTE_AUTH | ROUTE_WRITE},
    {"GET,POST,PUT,DELETE", "/_sim/**", alsim_h_sim, NULL, ROUTE_SIM},
};

/* Matches one pattern; '*' is one non-empty segment, a final "**" the rest. */
static bool match(const char *pat, const char *path, char *params[ALSIM_MAX_PARAMS], bool keep)
{
    int np = 0;
    while (*pat != '\0') {
        if (pat[0] == '*' && pat[1] == '*') {
            if (keep && np < ALSIM_MAX_PARAMS)
                params[np++] = strdup(path);
            return true;
        }
        if (*pat == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || path[n] != '/')
                return false;
            if (keep && np < ALSIM_MAX_PARAMS)
                params[np++] = strndup(path, n);
            path += n;
            pat++;
            continue;
        }
        if (*pat != *path)
            return false;
        pat++;
        path++;
    }
    return *path == '\0';
}

static bool has_method(const char *list, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, method, n) == 0)
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

/* Adds each method of list to the comma-separated, sorted set in allow. */
static void add_methods(char *allow, size_t len, const char *list)
{
    const char *all[] = {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"};
    bool want[6] = {false};
    for (int i = 0; i < 6; i++)
        want[i] = has_method(list, all[i]) || strstr(allow, all[i]) != NULL ||
                  (i == 2 && has_method(list, "GET")) || i == 3;
    allow[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (!want[i])
            continue;
        if (allow[0] != '\0')
            strncat(allow, ", ", len - strlen(allow) - 1);
        strncat(allow, all[i], len - strlen(allow) - 1);
    }
}

static bool route_enabled(const struct alsim *sim, const struct alsim_route *rt)
{
    return !(rt->flags & ROUTE_REPLAY) || sim->cfg.allow_replay;
}

int alsim_route_find(struct alsim *sim, const char *method, const char *path,
                     const struct alsim_route **route, char *params[ALSIM_MAX_PARAMS],
                     char *allow, size_t allow_len)
{
    size_t n = sizeof(ROUTES) / sizeof(ROUTES[0]);
    bool path_known = false;
    *route = NULL;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct alsim_route *rt = &ROUTES[i];
        if (!route_enabled(sim, rt) || !match(rt->pattern, path, NULL, false))
            continue;
        if (has_method(rt->methods, method)) {
            match(rt->pattern, path, params, true);
            *route = rt;
            return 0;
        }
        path_known = true;
        add_methods(allow, allow_len, rt->methods);
    }
    if (path_known)
        return 405;
    size_t plen = strlen(path);
    char *slashed = plen > 0 && path[plen - 1] != '/' ? malloc(plen + 2) : NULL;
    bool redirect = false;
    if (slashed != NULL) {
        memcpy(slashed, path, plen);
        memcpy(slashed + plen, "/", 2);
        for (size_t i = 0; i < n && !redirect; i++)
            redirect = route_enabled(sim, &ROUTES[i]) &&
                       strstr(ROUTES[i].pattern, "**") == NULL &&
                       match(ROUTES[i].pattern, slashed, NULL, false);
        free(slashed);
    }
    return redirect ? 308 : 404;
}
