// BoringSSL's one-shot SHA-256 (FIPS 180-4), as swift-crypto links it into every TradeSync
// binary (its vendored BoringSSL prefixes each symbol with `CCryptoBoringSSL_`). Nothing
// is linked from here: the symbol comes with swift-crypto's `Crypto` product, which every
// target using this module also depends on.
//
// Why not swift-crypto's `SHA256`: its Swift wrapper allocates a context object per hash
// and zeroises it on release, 53 of the 180 ns it takes for a 110-byte entry (measured on
// the benchmark machine), and the replication hot paths hash four times per entry. If a
// swift-crypto release renames the prefix, the link fails (it cannot silently bind to
// anything else); `Digest32Tests` pins the results to swift-crypto's `SHA256.hash`.
#ifndef TRADESYNC_CBORINGSHA256_H
#define TRADESYNC_CBORINGSHA256_H

#include <stddef.h>
#include <stdint.h>

/// Writes SHA-256 of `len` bytes at `data` to `out` (32 bytes) and returns `out`.
uint8_t *CCryptoBoringSSL_SHA256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif
