/* queue_scripts: the module's Lua scripts. Their text lives in common/src/lua/queue_*.lua
 * (read and linted as Lua); cmake/embed_lua.cmake turns each file into a string
 * macro in the generated queue_lua.h. The consumer scripts share the prelude
 * (queue_prelude.lua: operation ids, liveness, acknowledgements). */
#include "queue_int.h"
#include "queue_lua.h"

#define CONSUMER(script) REPLAY__LUA_QUEUE_PRELUDE script

const char *const replay__q_scripts[REPLAY__QS_COUNT] = {
    [REPLAY__QS_POP] = CONSUMER(REPLAY__LUA_QUEUE_POP),
    [REPLAY__QS_PARK] = CONSUMER(REPLAY__LUA_QUEUE_PARK),
    [REPLAY__QS_ACK] = CONSUMER(REPLAY__LUA_QUEUE_ACK),
    [REPLAY__QS_RELEASE] = CONSUMER(REPLAY__LUA_QUEUE_RELEASE),
    [REPLAY__QS_RETURN_OWN] = CONSUMER(REPLAY__LUA_QUEUE_RETURN_OWN),
    [REPLAY__QS_CLOSE] = CONSUMER(REPLAY__LUA_QUEUE_CLOSE),
    [REPLAY__QS_RECOVER_DEAD] = REPLAY__LUA_QUEUE_RECOVER_DEAD,
    [REPLAY__QS_TOUCH] = REPLAY__LUA_QUEUE_TOUCH,
    [REPLAY__QS_RECONCILE] = REPLAY__LUA_QUEUE_RECONCILE,
    [REPLAY__QS_REQUEUE_BAD] = REPLAY__LUA_QUEUE_REQUEUE_BAD,
    [REPLAY__QS_BAD_PREVIEW] = REPLAY__LUA_QUEUE_BAD_PREVIEW,
    [REPLAY__QS_CHECKPOINT_ADVANCE] = REPLAY__LUA_QUEUE_CHECKPOINT_ADVANCE,
    [REPLAY__QS_IN_FLIGHT] = REPLAY__LUA_QUEUE_IN_FLIGHT,
    [REPLAY__QS_MANIFEST_PREPARE] = REPLAY__LUA_QUEUE_MANIFEST_PREPARE,
    [REPLAY__QS_MANIFEST_COMMIT] = REPLAY__LUA_QUEUE_MANIFEST_COMMIT,
};
