/* auth: users, API keys, login sessions, roles and quotas of al-sim
 * (al-rest-api.md §4; see alsim.h). */
#include "alsim.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simutil.h"

#define MAX_SESSIONS 10000

static const char *const ROLE_NAMES[R_COUNT] = {
    "alert_view", "badlist_view", "bundle_download", "safelist_view", "signature_view",
    "submission_view", "workflow_view", "heuristic_view", "retrohunt_view", "archive_view",
    "alert_manage", "badlist_manage", "safelist_manage", "submission_create",
    "replay_trigger", "signature_manage", "replay_system", "signature_import",
    "workflow_manage", "administration", "apikey_access",
};

const char *alsim_role_name(enum alsim_role r)
{
    return (unsigned)r < R_COUNT ? ROLE_NAMES[r] : "?";
}

uint32_t alsim_roles_mask(const char *list)
{
    uint32_t mask = 0;
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        for (int r = 0; r < R_COUNT; r++)
            if (strlen(ROLE_NAMES[r]) == n && strncmp(p, ROLE_NAMES[r], n) == 0)
                mask |= ROLE(r);
        p += n + (p[n] == ',');
    }
    return mask;
}

struct session {
    char id[129];
    struct alsim_user *user;
    char ip[64];
    char *ua;
    int64_t expires_ms;
};

struct alsim_sessions {
    pthread_mutex_t mu;
    struct session *v;
    size_t n;
};

int alsim_sessions_new(struct alsim_sessions **out)
{
    struct alsim_sessions *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

void alsim_sessions_free(struct alsim_sessions *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].ua);
    free(s->v);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void alsim_sessions_clear(struct alsim_sessions *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].ua);
    s->n = 0;
    pthread_mutex_unlock(&s->mu);
}

static void client_ip(struct alsim_req *r, char out[64])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
}

static struct alsim_user *find_user(struct alsim *sim, const char *name)
{
    for (size_t i = 0; name != NULL && i < sim->cfg.n_users; i++)
        if (strcmp(sim->cfg.users[i].name, name) == 0)
            return &sim->cfg.users[i];
    return NULL;
}

/* validate_apikey: NULL user with *why set on failure. */
static struct alsim_user *check_apikey(struct alsim *sim, const char *uname, const char *apikey,
                                       const char **why)
{
    struct alsim_user *u = find_user(sim, uname);
    const char *colon = strchr(apikey, ':');
    *why = "Invalid user or APIKey";
    if (u == NULL || colon == NULL)
        return NULL;
    size_t kn = (size_t)(colon - apikey);
    if (strlen(u->key_name) != kn || strncmp(u->key_name, apikey, kn) != 0 ||
        strcmp(u->secret, colon + 1) != 0)
        return NULL;
    return u;
}

/* 401 as the UI's handler answers it: login options, session and XSRF cookie cleared. */
static void reply_401(struct alsim_resp *out, const char *why)
{
    json_t *data = json_pack("{s:b,s:b,s:b}", "allow_userpass_login", 1, "allow_signup", 0,
                             "allow_saml_login", 0);
    alsim_reply(out, 401, data, "%s", why);
    alsim_resp_header(out, "Set-Cookie",
                      "XSRF-TOKEN=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");
}

/* Session lookup by cookie: the user, or NULL with *why. */
static struct alsim_user *check_session(struct alsim_req *r, const char **why)
{
    struct alsim_sessions *s = r->sim->sessions;
    const char *sid = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "session");
    if (sid == NULL || *sid == '\0') {
        *why = "Session not found";
        return NULL;
    }
    char ip[64];
    client_ip(r, ip);
    const char *ua = alsim_req_header(r, "User-Agent");
    struct alsim_user *u = NULL;
    *why = "Session expired";
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        struct session *e = &s->v[i];
        if (strcmp(e->id, sid) != 0 || e->expires_ms <= r->now_ms)
            continue;
        if (r->sim->cfg.validate_session_ip && strcmp(ip, e->ip) != 0)
            *why = "Invalid source IP for this session";
        else if (r->sim->cfg.validate_session_ua &&
                 !(ua == NULL ? e->ua == NULL : e->ua != NULL && strcmp(ua, e->ua) == 0))
            *why = "Invalid user agent for this session";
        else
            u = e->user;
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return u;
}

bool alsim_auth_request(struct alsim_req *r)
{
    const char *apikey = alsim_req_header(r, "X-APIKEY");
    const char *uname = alsim_req_header(r, "X-USER");
    const char *why = NULL;
    struct alsim_user *u = NULL;
    if (apikey != NULL && uname != NULL && *apikey != '\0')
        u = check_apikey(r->sim, uname, apikey, &why);
    else
        u = check_session(r, &why);
    if (u == NULL) {
        reply_401(&r->early, why);
        return false;
    }
    r->user = u;
    r->roles = u->roles;
    return true;
}

/* UserQuotaTracker's timeout: a slot older than this no longer counts. */
#define QUOTA_SLOT_TTL_MS (2 * 60 * 1000)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* zpopmin: frees the oldest slot, if any. Under sim->mu. */
static void quota_pop_oldest(struct alsim_user *u)
{
    if (u->quota_n == 0)
        return;
    int min = 0;
    for (int i = 1; i < u->quota_n; i++)
        if (u->quota_ts[i] < u->quota_ts[min])
            min = i;
    u->quota_ts[min] = u->quota_ts[--u->quota_n];
}

/* The tracker's begin script: expire old slots, take one if below max. */
static bool quota_begin(struct alsim_user *u, int max, int64_t now)
{
    if (u->quota_ts == NULL && (u->quota_ts = calloc((size_t)max, sizeof(int64_t))) == NULL)
        return false;
    for (int i = 0; i < u->quota_n;)
        if (u->quota_ts[i] <= now - QUOTA_SLOT_TTL_MS)
            u->quota_ts[i] = u->quota_ts[--u->quota_n];
        else
            i++;
    if (u->quota_n >= max)
        return false;
    u->quota_ts[u->quota_n++] = now;
    return true;
}

bool alsim_quota_enter(struct alsim_req *r)
{
    int quota = r->sim->cfg.api_quota;
    if (quota <= 0 || r->user == NULL)
        return true;
    pthread_mutex_lock(&r->sim->mu);
    bool ok = quota_begin(r->user, quota, mono_ms());
    if (!ok)
        quota_pop_oldest(r->user); /* the 503 answer ends "its" quota too */
    pthread_mutex_unlock(&r->sim->mu);
    r->quota_held = ok;
    if (!ok)
        alsim_reply(&r->early, 503, NULL,
                    "You've exceeded your maximum concurrent API calls quota of %d", quota);
    return ok;
}

void alsim_quota_leave(struct alsim_req *r)
{
    if (!r->quota_held)
        return;
    pthread_mutex_lock(&r->sim->mu);
    quota_pop_oldest(r->user);
    pthread_mutex_unlock(&r->sim->mu);
    r->quota_held = false;
}

int alsim_quota_slots(struct alsim *sim, struct alsim_user *u)
{
    pthread_mutex_lock(&sim->mu);
    int n = u->quota_n;
    pthread_mutex_unlock(&sim->mu);
    return n;
}

/* ---------- handlers ---------- */

void alsim_h_versions(struct alsim_req *r, struct alsim_resp *out)
{
    (void)r;
    alsim_reply(out, 200, json_pack("[s]", "v4"), NULL);
}

/* Form field of an application/x-www-form-urlencoded body (decoded, malloc'd). */
static char *form_value(const char *body, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = body; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, "&");
        if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *v = strndup(p + nl + 1, n - nl - 1);
            if (v == NULL)
                return NULL;
            for (char *q = v; *q != '\0'; q++)
                if (*q == '+')
                    *q = ' ';
            MHD_http_unescape(v);
            return v;
        }
        p += n + (p[n] == '&');
    }
    return NULL;
}

/* user/apikey/password from a JSON body, else from form fields and the query. */
static void login_fields(struct alsim_req *r, char **user, char **apikey, char **password)
{
    struct alsim_resp scratch = {.fd = -1};
    json_t *j = alsim_req_json(r, &scratch);
    alsim_resp_clear(&scratch);
    const char *names[3] = {"user", "apikey", "password"};
    char **outs[3] = {user, apikey, password};
    for (int i = 0; i < 3; i++) {
        *outs[i] = NULL;
        if (json_is_object(j)) {
            json_t *v = json_object_get(j, names[i]);
            *outs[i] = json_is_string(v) && json_string_length(v) > 0
                           ? strdup(json_string_value(v)) : NULL;
        } else if (j == NULL) {
            *outs[i] = r->body != NULL ? form_value(r->body, names[i]) : NULL;
            const char *a = alsim_req_arg(r, names[i]);
            if (*outs[i] == NULL && a != NULL)
                *outs[i] = strdup(a);
            if (*outs[i] != NULL && **outs[i] == '\0') {
                free(*outs[i]);
                *outs[i] = NULL;
            }
        }
    }
    json_decref(j);
}

static int add_session(struct alsim_req *r, struct alsim_user *u, char id[129])
{
    struct alsim_sessions *s = r->sim->sessions;
    const char *ua = alsim_req_header(r, "User-Agent");
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    size_t w = 0; /* drop expired sessions first */
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].expires_ms > r->now_ms)
            s->v[w++] = s->v[i];
        else
            free(s->v[i].ua);
    }
    s->n = w;
    struct session *v = s->n < MAX_SESSIONS ? realloc(s->v, (s->n + 1) * sizeof(*v)) : NULL;
    if (v != NULL) {
        s->v = v;
        struct session *e = &v[s->n];
        memset(e, 0, sizeof(*e));
        alsim_random_hex(e->id, 64);
        e->user = u;
        client_ip(r, e->ip);
        e->ua = ua != NULL ? strdup(ua) : NULL;
        e->expires_ms = r->now_ms + r->sim->cfg.session_duration_s * 1000;
        memcpy(id, e->id, sizeof(e->id));
        s->n++;
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void login_success(struct alsim_req *r, struct alsim_resp *out, struct alsim_user *u)
{
    char sid[129], xsrf[33], cookie[300];
    if (add_session(r, u, sid) != 0) {
        alsim_reply_500(out);
        return;
    }
    alsim_random_hex(xsrf, 16);
    json_t *limit = json_array();
    for (int i = 0; i < R_COUNT; i++)
        if (u->roles & ROLE(i))
            json_array_append_new(limit, json_string(ROLE_NAMES[i]));
    alsim_reply(out, 200,
                json_pack("{s:s,s:o,s:I}", "username", u->name, "roles_limit", limit,
                          "session_duration", (json_int_t)r->sim->cfg.session_duration_s),
                NULL);
    snprintf(cookie, sizeof(cookie), "session=%s; HttpOnly; Path=/; SameSite=Strict", sid);
    alsim_resp_header(out, "Set-Cookie", cookie);
    snprintf(cookie, sizeof(cookie), "XSRF-TOKEN=%s; Path=/", xsrf);
    alsim_resp_header(out, "Set-Cookie", cookie);
}

void alsim_h_login(struct alsim_req *r, struct alsim_resp *out)
{
    char *user = NULL, *apikey = NULL, *password = NULL;
    login_fields(r, &user, &apikey, &password);
    const char *why = NULL;
    if (user != NULL && apikey != NULL) {
        struct alsim_user *u = check_apikey(r->sim, user, apikey, &why);
        if (u != NULL)
            login_success(r, out, u);
        else
            alsim_reply(out, 401, NULL, "%s", why);
    } else if (user != NULL && password != NULL) {
        alsim_reply(out, 401, NULL, "Wrong username or password");
    } else {
        alsim_reply(out, 401, NULL, "Not enough information to proceed with authentication");
    }
    free(user);
    free(apikey);
    free(password);
}

void alsim_h_logout(struct alsim_req *r, struct alsim_resp *out)
{
    struct alsim_sessions *s = r->sim->sessions;
    const char *sid = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "session");
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; sid != NULL && i < s->n; i++)
        if (strcmp(s->v[i].id, sid) == 0)
            s->v[i].expires_ms = 0;
    pthread_mutex_unlock(&s->mu);
    alsim_reply(out, 200, json_pack("{s:b}", "success", 1), NULL);
    alsim_resp_header(out, "Set-Cookie",
                      "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");
}
