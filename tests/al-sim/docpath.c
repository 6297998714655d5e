/* docpath: dotted paths over JSON documents (see docpath.h). */
#include "docpath.h"

#include <string.h>

static bool visit_value(const json_t *v, alsim_visit_fn fn, void *ud, int depth)
{
    if (depth > ALSIM_PATH_MAX_DEPTH)
        return false;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
            if (visit_value(e, fn, ud, depth + 1))
                return true;
        return false;
    }
    return fn(v, ud);
}

static bool visit_node(const json_t *v, const char *path, size_t plen, alsim_visit_fn fn,
                       void *ud, int depth)
{
    if (depth > ALSIM_PATH_MAX_DEPTH)
        return false;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
            if (visit_node(e, path, plen, fn, ud, depth + 1))
                return true;
        return false;
    }
    if (!json_is_object(v))
        return false;
    const json_t *whole = json_object_getn(v, path, plen);
    if (whole != NULL && visit_value(whole, fn, ud, depth + 1))
        return true;
    for (size_t i = 0; i < plen; i++) {
        if (path[i] != '.')
            continue;
        const json_t *child = json_object_getn(v, path, i);
        if (child != NULL && visit_node(child, path + i + 1, plen - i - 1, fn, ud, depth + 1))
            return true;
    }
    return false;
}

bool alsim_path_visit(const json_t *doc, const char *path, alsim_visit_fn fn, void *ud)
{
    if (doc == NULL || path == NULL || *path == '\0')
        return false;
    return visit_node(doc, path, strlen(path), fn, ud, 0);
}

static bool leaves(const json_t *v, alsim_visit_fn fn, void *ud, int depth)
{
    if (depth > ALSIM_PATH_MAX_DEPTH)
        return false;
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e)
            if (leaves(e, fn, ud, depth + 1))
                return true;
        return false;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
            if (leaves(e, fn, ud, depth + 1))
                return true;
        return false;
    }
    return fn(v, ud);
}

bool alsim_leaves_visit(const json_t *doc, alsim_visit_fn fn, void *ud)
{
    return doc != NULL && leaves(doc, fn, ud, 0);
}

static int project(const json_t *src, json_t *dst, const char *path, size_t plen, int depth);

/* dst[key] := projection of the array sv (element-wise, objects only). */
static int project_array(const json_t *sv, json_t *dst, const char *key, size_t klen,
                         const char *rest, size_t rlen, int depth)
{
    json_t *darr = json_object_getn(dst, key, klen);
    if (darr == sv)
        return 0;
    if (darr == NULL || !json_is_array(darr) || json_array_size(darr) != json_array_size(sv)) {
        darr = json_array();
        if (darr == NULL || json_object_setn_new(dst, key, klen, darr) != 0)
            return -1;
        for (size_t i = 0; i < json_array_size(sv); i++)
            if (json_array_append_new(darr, json_object()) != 0)
                return -1;
    }
    for (size_t i = 0; i < json_array_size(sv); i++) {
        const json_t *e = json_array_get(sv, i);
        json_t *de = json_array_get(darr, i);
        if (json_is_object(e) && json_is_object(de) && project(e, de, rest, rlen, depth + 1) != 0)
            return -1;
    }
    return 0;
}

static int project_child(const json_t *sv, json_t *dst, const char *key, size_t klen,
                         const char *rest, size_t rlen, int depth)
{
    if (json_is_array(sv))
        return project_array(sv, dst, key, klen, rest, rlen, depth);
    if (!json_is_object(sv))
        return 0;
    json_t *dchild = json_object_getn(dst, key, klen);
    if (dchild == sv)
        return 0; /* already copied whole */
    bool created = false;
    if (dchild == NULL || !json_is_object(dchild)) {
        dchild = json_object();
        if (dchild == NULL || json_object_setn_new(dst, key, klen, dchild) != 0)
            return -1;
        created = true;
    }
    if (project(sv, dchild, rest, rlen, depth + 1) != 0)
        return -1;
    if (created && json_object_size(dchild) == 0)
        json_object_deln(dst, key, klen);
    return 0;
}

static int project(const json_t *src, json_t *dst, const char *path, size_t plen, int depth)
{
    if (depth > ALSIM_PATH_MAX_DEPTH || !json_is_object(src))
        return 0;
    json_t *whole = json_object_getn(src, path, plen);
    if (whole != NULL)
        return json_object_setn(dst, path, plen, whole);
    for (size_t i = 0; i < plen; i++) {
        if (path[i] != '.')
            continue;
        const json_t *sv = json_object_getn(src, path, i);
        if (sv != NULL && project_child(sv, dst, path, i, path + i + 1, plen - i - 1, depth) != 0)
            return -1;
    }
    return 0;
}

int alsim_path_project(const json_t *src, json_t *dst, const char *path)
{
    if (src == NULL || dst == NULL || path == NULL || *path == '\0')
        return 0;
    return project(src, dst, path, strlen(path), 0);
}
