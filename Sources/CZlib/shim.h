#ifndef TRADESYNC_CZLIB_SHIM_H
#define TRADESYNC_CZLIB_SHIM_H
#include <zlib.h>
#endif
