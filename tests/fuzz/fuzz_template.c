/* fuzz_template.c — libFuzzer harness over the chat-template lexer, parser and renderer.
 * The input is a template; if it contains a line "#CONTEXT#", the text after it is used as
 * the JSON context instead of the built-in conversation.  Small limits keep every input fast:
 * a template that loops forever, recurses without end or grows its output must end with an
 * error (HEARTH_ERR_LIMIT), never a crash, a hang or a sanitizer report. */
#include "chat/chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char default_ctx[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"user\",\"content\":\"h\\u00e9llo\"},"
    "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"type\":\"function\",\"function\":"
    "{\"name\":\"f\",\"arguments\":{\"a\":1.5,\"b\":[true,null]}}}]},{\"role\":\"tool\",\"content\":\"r\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}],"
    "\"add_generation_prompt\":true,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *ctx = default_ctx;
    size_t tlen = size;
    char *sep = strstr(buf, "\n#CONTEXT#\n");
    if (sep && (size_t)(sep - buf) == strlen(buf) - strlen(sep)) {
        tlen = (size_t)(sep - buf);
        ctx  = sep + 11;
    }
    chat_limits lim;
    chat_limits_default(&lim);
    lim.max_output     = 1 << 16;
    lim.max_memory     = 32 << 20;
    lim.max_depth      = 64;
    lim.max_loop_iters = 20000;
    lim.max_steps      = 200000;
    lim.has_now        = true;
    lim.now            = 1721995200;
    hearth_buf out = { 0 };
    char err[256];
    (void)chat_render_json(buf, tlen, ctx, &lim, &out, err, sizeof err);
    hearth_buf_free(&out);
    free(buf);
    return 0;
}
