/* Compiles the public header alone, as C11 with -pedantic -Werror. */
#include "hearth.h"
int header_only_probe(void);
int header_only_probe(void) { return (int)HEARTH_OK + (int)sizeof(hearth_status); }
