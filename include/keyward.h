/*
 * keyward.h - public header of Keyward, a software HSM exposed as a
 * PKCS#11 3.0 module (libkeyward.so).
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
 * and C_GetInterface offer the "PKCS 11" interface in versions 3.0 and
 * 2.40 (C_GetInterface with a NULL name and version returns 3.0).
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
 * None are defined yet.
 */
#define KEYWARD_VENDOR_BASE (0x80000000UL | 0x4B570000UL)

/* Environment variable: when set, each C_* call is traced to stderr as
 * "keyward: C_Name -> CKR_CODE" (function names and return codes only). */
#define KEYWARD_ENV_TRACE "KEYWARD_TRACE"

#endif /* KEYWARD_H */
