// Compiles the public header alone, as C++ with -pedantic -Werror.
#include "hearth.h"
int header_only_probe_cxx() { return static_cast<int>(HEARTH_OK) + static_cast<int>(sizeof(hearth_status)); }
