/*
 * Shared by the unit tests that load configuration: an environment where none of
 * the developer's Replay variables leak in, a temporary directory, files in it.
 */
#ifndef REPLAY_TEST_ENV_H
#define REPLAY_TEST_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unsets the variables that change what replay_config_load() reads, and points
 * Assemblyline's config.yml at a file that does not exist. Makes the directory
 * (a mkdtemp template, e.g. "/tmp/replay-test-x.XXXXXX", replaced by its name). */
static inline int test_env_setup(char *dir)
{
    static const char *const vars[] = {"REPLAY_CONFIG_PATH", "REPLAY_REDIS_URL",
        "REPLAY_REDIS_PERSISTENT_URL", "AL_LOG_LEVEL", "LOG_LEVEL", "REPLAY_LOG_FORMAT",
        "REPLAY_HEARTBEAT_FILE", "REPLAY_TEST_FAULT"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    if (mkdtemp(dir) == NULL)
        return -1;
    char al[512];
    snprintf(al, sizeof(al), "%s/no-config.yml", dir);
    setenv("REPLAY_AL_CONFIG_PATH", al, 1);
    return 0;
}

static inline int test_env_teardown(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `text` to dir/name; returns the path (static: valid until the next call),
 * or NULL when the file cannot be written. */
static inline const char *test_env_write(const char *dir, const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fputs(text, f);
    return fclose(f) == 0 ? path : NULL;
}

#endif
