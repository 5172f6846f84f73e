/*
 * keyward.h - public header of Keyward, a software HSM exposed as a
 * PKCS#11 3.2 module (libkeyward.so).
 *
 * The module implements the standard PKCS#11 interface: applications use
 * the OASIS PKCS#11 headers for every type, function and constant. This
 * header only adds what is specific to Keyward. Include the OASIS pkcs11.h
 * (with its platform macros defined) BEFORE this file, e.g.:
 *
 *     #include <pkcs11.h>
 *     #include <keyward.h>
 *
 * Discovery: C_GetFunctionList returns the 2.40 table; C_GetInterfaceList
 * and C_GetInterface offer the "PKCS 11" interface in versions 3.2, 3.0
 * and 2.40 (C_GetInterface with a NULL name and version returns 3.2,
 * whose table begins with the 3.0 table: a caller built against 3.0
 * headers may use it as a CK_FUNCTION_LIST_3_0). CK_INFO.cryptokiVersion
 * is 3.2.
 */
#ifndef KEYWARD_H
#define KEYWARD_H

/* Version of this library. */
#define KEYWARD_VERSION_MAJOR 0
#define KEYWARD_VERSION_MINOR 1
#define KEYWARD_VERSION_PATCH 0
#define KEYWARD_VERSION_STRING "0.1.0"

/*
 * Vendor-defined values. Keyward-specific attributes, mechanisms and
 * return codes, when added, are declared here in the vendor-defined ranges
 * (CKA_VENDOR_DEFINED, CKM_VENDOR_DEFINED, CKR_VENDOR_DEFINED, all
 * 0x80000000), offset by KEYWARD_VENDOR_BASE so that they cannot collide
 * with the values of other vendors' modules. 0x4B57 is "KW" in ASCII.
 */
#define KEYWARD_VENDOR_BASE (0x80000000UL | 0x4B570000UL)

/*
 * Key lifecycle attributes (docs/LIFECYCLE.md). Every key object and
 * certificate has them. C_SetAttributeValue cannot change them and a
 * creation template cannot give them (CKR_ATTRIBUTE_READ_ONLY; as for every
 * read-only attribute, setting the current value is accepted as a no-op),
 * except CKA_KEYWARD_STATE = CKW_STATE_PRE_ACTIVE or ACTIVE at creation.
 * The admin command `keyward keys activate|deactivate|compromise|rotate`
 * changes states.
 * Times are CK_ULONG seconds since 1970-01-01 UTC; 0 means "never".
 * Object ids are CK_ULONG, stable for the life of the object in its token
 * (unlike handles), and are what the rotation links refer to.
 */
#define CKA_KEYWARD_STATE          (KEYWARD_VENDOR_BASE + 0x01) /* CK_ULONG, CKW_STATE_* */
#define CKA_KEYWARD_STATE_REASON   (KEYWARD_VENDOR_BASE + 0x02) /* UTF-8, why it left ACTIVE */
#define CKA_KEYWARD_CREATED        (KEYWARD_VENDOR_BASE + 0x03) /* CK_ULONG time */
#define CKA_KEYWARD_LAST_USED      (KEYWARD_VENDOR_BASE + 0x04) /* CK_ULONG time */
#define CKA_KEYWARD_USE_COUNT      (KEYWARD_VENDOR_BASE + 0x05) /* CK_ULONG */
#define CKA_KEYWARD_ORIGIN         (KEYWARD_VENDOR_BASE + 0x06) /* CK_ULONG, CKW_ORIGIN_* */
#define CKA_KEYWARD_OBJECT_ID      (KEYWARD_VENDOR_BASE + 0x07) /* CK_ULONG */
#define CKA_KEYWARD_PREDECESSOR    (KEYWARD_VENDOR_BASE + 0x08) /* CK_ULONG object id, 0 = none */
#define CKA_KEYWARD_SUCCESSOR      (KEYWARD_VENDOR_BASE + 0x09) /* CK_ULONG object id, 0 = none */
#define CKA_KEYWARD_STATE_CHANGED  (KEYWARD_VENDOR_BASE + 0x0A) /* CK_ULONG time */
/* Versioned keys (docs/LIFECYCLE.md): all versions of a key share CKA_LABEL
 * and CKA_ID. A search naming neither attribute finds only primary versions. */
#define CKA_KEYWARD_VERSION        (KEYWARD_VENDOR_BASE + 0x0B) /* CK_ULONG, 1 = never rotated; read-only */
#define CKA_KEYWARD_PRIMARY        (KEYWARD_VENDOR_BASE + 0x0C) /* CK_BBOOL, the version in use; read-only */

/* Separation of duties (docs/SEPARATION-OF-DUTIES.md): CK_TRUE in a creation
 * template makes every destroy, export (C_WrapKey, reading CKA_VALUE) and
 * attribute change that makes the key more usable need an approved officer
 * request; set at creation only, never cleared (copies and new versions keep
 * it). Without the approval the call answers CKR_ACTION_PROHIBITED. */
#define CKA_KEYWARD_QUORUM         (KEYWARD_VENDOR_BASE + 0x0D) /* CK_BBOOL, set at creation; read-only */

/* Values of CKA_KEYWARD_STATE (NIST SP 800-57 part 1, section 7). */
#define CKW_STATE_PRE_ACTIVE   1UL /* not yet usable at all */
#define CKW_STATE_ACTIVE       2UL /* usable within CKA_START_DATE..CKA_END_DATE */
#define CKW_STATE_DEACTIVATED  3UL /* verify/decrypt/unwrap only */
#define CKW_STATE_COMPROMISED  4UL /* verify/decrypt/unwrap only */
#define CKW_STATE_DESTROYED    5UL /* only in the audit trail and inventory */

/* Values of CKA_KEYWARD_ORIGIN. */
#define CKW_ORIGIN_GENERATED   1UL /* C_GenerateKey / C_GenerateKeyPair here */
#define CKW_ORIGIN_IMPORTED    2UL /* C_CreateObject with the key value */
#define CKW_ORIGIN_UNWRAPPED   3UL /* C_UnwrapKey */
#define CKW_ORIGIN_DERIVED     4UL /* C_DeriveKey */
#define CKW_ORIGIN_COPIED      5UL /* C_CopyObject (of a key of any origin) */

/* Environment variable: when set, each C_* call is traced to stderr as
 * "keyward: C_Name -> CKR_CODE" (function names and return codes only). */
#define KEYWARD_ENV_TRACE "KEYWARD_TRACE"

/* Environment variables of the module and of the keyward admin command. */
#define KEYWARD_ENV_CONF  "KEYWARD_CONF"  /* path of the TOML config file */
#define KEYWARD_ENV_STORE "KEYWARD_STORE" /* store directory, overrides the file */

#endif /* KEYWARD_H */
