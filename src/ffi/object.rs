//! Object management (PKCS#11 3.0 §5.7): creating, copying and destroying
//! objects, reading and writing attributes, and searching.

use cryptoki_sys::*;

use super::args::{self, ArrayOut, OutPtr};
use super::entry;
use crate::api::global::library;

/// Creates an object from a template.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CreateObject(
    hSession: CK_SESSION_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulCount: CK_ULONG,
    phObject: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_CreateObject", || {
        let lib = library()?;
        // SAFETY: template and handle pointers valid or NULL, per the contract.
        let (template, out) =
            unsafe { (args::template(pTemplate, ulCount)?, OutPtr::new(phObject)?) };
        out.write(lib.create_object(hSession, &template)?);
        Ok(())
    })
}

/// Copies an object, applying a template to the copy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CopyObject(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulCount: CK_ULONG,
    phNewObject: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_CopyObject", || {
        let lib = library()?;
        // SAFETY: template and handle pointers valid or NULL, per the contract.
        let (template, out) = unsafe {
            (
                args::template(pTemplate, ulCount)?,
                OutPtr::new(phNewObject)?,
            )
        };
        out.write(lib.copy_object(hSession, hObject, &template)?);
        Ok(())
    })
}

/// Destroys an object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DestroyObject(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_DestroyObject", || {
        library()?.destroy_object(hSession, hObject)
    })
}

/// Reports an object's approximate size in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetObjectSize(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pulSize: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_GetObjectSize", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_ULONG, per the contract.
        let out = unsafe { OutPtr::new(pulSize) }?;
        let size = lib.object_size(hSession, hObject)?;
        out.write(args::to_ulong(usize::try_from(size).unwrap_or(usize::MAX))?);
        Ok(())
    })
}

/// Reads attribute values into the caller's template, entry by entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulCount: CK_ULONG,
) -> CK_RV {
    entry("C_GetAttributeValue", || {
        let lib = library()?;
        // SAFETY: NULL or `ulCount` readable entries, per the contract.
        let types = unsafe { args::attribute_types(pTemplate, ulCount) }?;
        // SAFETY: the same entries.
        let buffers = unsafe { args::attribute_buffers(pTemplate, ulCount) }?;
        let wants = |i: usize| buffers.get(i).copied().unwrap_or(true);
        let reads = lib.attribute_values_for(hSession, hObject, &types, &wants)?;
        // SAFETY: the same entries, writable, with their pValue buffers.
        unsafe { args::write_attributes(pTemplate, ulCount, reads) }
    })
}

/// Changes attribute values of an object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulCount: CK_ULONG,
) -> CK_RV {
    entry("C_SetAttributeValue", || {
        let lib = library()?;
        // SAFETY: NULL or a valid template of `ulCount` entries.
        let template = unsafe { args::template(pTemplate, ulCount) }?;
        lib.set_attribute_values(hSession, hObject, &template)
    })
}

/// Starts a search for objects matching a template.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsInit(
    hSession: CK_SESSION_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulCount: CK_ULONG,
) -> CK_RV {
    entry("C_FindObjectsInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid template of `ulCount` entries.
        let template = unsafe { args::template(pTemplate, ulCount) }?;
        lib.find_objects_init(hSession, &template)
    })
}

/// Returns up to `ulMaxObjectCount` more handles of the search.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjects(
    hSession: CK_SESSION_HANDLE,
    phObject: CK_OBJECT_HANDLE_PTR,
    ulMaxObjectCount: CK_ULONG,
    pulObjectCount: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_FindObjects", || {
        let lib = library()?;
        // SAFETY: NULL or writable for `ulMaxObjectCount` handles and one count.
        let (list, count) = unsafe {
            (
                ArrayOut::new(phObject, ulMaxObjectCount)?,
                OutPtr::new(pulObjectCount)?,
            )
        };
        let found = lib.find_objects(hSession, list.cap())?;
        count.write(list.write(&found)?);
        Ok(())
    })
}

/// Ends the search.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry("C_FindObjectsFinal", || {
        library()?.find_objects_final(hSession)
    })
}
