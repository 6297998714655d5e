/* Fuzz target: an HTTP answer body through the envelope parser and the status
 * classifier, as the client sees every answer from a server. */
#include <stdint.h>
#include <string.h>

#include "alclient_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 401, 403, 404, 409, 415, 500, 502, 503, 504};
    struct replay__alclient_envelope env;
    memset(&env, 0, sizeof(env));
    replay__alclient_envelope_parse((const char *)data, size, &env);
    long status = statuses[size % (sizeof(statuses) / sizeof(statuses[0]))];
    int code = 0;
    enum replay__alclient_verdict v = replay__alclient_classify_status(
        status, env.valid, env.message ? env.message : "", size % 2 == 0, &code);
    if (v != REPLAY__AL_OK && code >= 0)
        __builtin_trap(); /* a refusal must carry an error code */
    replay__alclient_envelope_free(&env);
    return 0;
}
