/* The table of modes, and the one name of each. */
#include <stddef.h>
#include "internal.h"
#include "modes/mode.h"

const agc_mode_ops *agc_mode_lookup(int mode)
{
    switch (mode) {
    case AGC_MODE_STW: return &agc_mode_stw;
    case AGC_MODE_COPY: return &agc_mode_copy;
    case AGC_MODE_MINOR: return &agc_mode_minor;
    case AGC_MODE_MOVE: return &agc_mode_move;
    default: return NULL;
    }
}

const char *agc_mode_name(int mode)
{
    const agc_mode_ops *m = agc_mode_lookup(mode);
    return m ? m->name : "?";
}
