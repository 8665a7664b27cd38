// Prototypes from ICU's stable C API (unicode/uidna.h, ICU >= 4.6), with the `swift_` prefix
// that swift-foundation-icu gives every exported symbol. Only what host-name normalisation needs.
#ifndef C_FOUNDATION_ICU_H
#define C_FOUNDATION_ICU_H

#include <stdint.h>

/// ICU's opaque UTS #46 converter (`UIDNA`).
typedef struct SentinelUIDNA SentinelUIDNA;

/// ICU's `UIDNAInfo`: `size` must be set to sizeof before the call; `errors` receives the
/// UIDNA_ERROR_* bits.
typedef struct {
    int16_t size;
    int8_t isTransitionalDifferent;
    int8_t reservedB3;
    uint32_t errors;
    int32_t reservedI2;
    int32_t reservedI3;
} SentinelUIDNAInfo;

/// `uidna_openUTS46`: creates a converter with UIDNA_* option bits; `errorCode` > 0 is failure.
SentinelUIDNA *swift_uidna_openUTS46(uint32_t options, int32_t *errorCode);

/// `uidna_nameToASCII_UTF8`: UTS #46 ToASCII of a whole domain name.
int32_t swift_uidna_nameToASCII_UTF8(const SentinelUIDNA *idna, const char *name, int32_t length, char *dest,
                                     int32_t capacity, SentinelUIDNAInfo *info, int32_t *errorCode);

#endif
