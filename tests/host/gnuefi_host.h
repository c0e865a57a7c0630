/*
 * GNU-EFI's headers as the loader's host tests see them: #included before the boot/ sources they
 * test, so that the sources' own #include <efi.h> and <efilib.h> find them already read.
 *
 * The tests stand in for GNU-EFI's library calls with host functions. One of them, CopyMem, is
 * declared differently by the GNU-EFI releases Debian ships: 3.0.15 (Debian 12) as
 * VOID CopyMem(VOID *, CONST VOID *, UINTN), 3.0.18 (Debian 13) as EFIAPI (the Microsoft calling
 * convention under GNU_EFI_USE_MS_ABI) with a source that is not const. A host definition matches
 * only one of them, so the header's declaration is read under another name and the one below is
 * the CopyMem the loader's sources call in these tests. The loader itself is built against the
 * header's declaration and links GNU-EFI's own CopyMem.
 */
#ifndef GNUEFI_HOST_H
#define GNUEFI_HOST_H

#define CopyMem gnuefi_header_CopyMem
#include <efi.h>
#include <efilib.h>
#undef CopyMem

/* Copies n bytes from src to dst (memmove's contract); each test defines it. */
VOID CopyMem(VOID *dst, CONST VOID *src, UINTN n);

#endif
