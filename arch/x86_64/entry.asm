; Kernel entry from the UEFI loader (contract: include/bootinfo.h).
; RDI = physical address of struct bootinfo; interrupts off; loader page tables live.
bits 64
default rel

section .bss
align 4096
global boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:               ; left unmapped by vm_init: an overflow faults into #DF (IST)
	resb 4096
boot_stack_bottom:
	resb 65536
boot_stack_top:

section .text.entry
global _start
extern kmain
_start:
	cli
	cld
	lea rsp, [boot_stack_top]
	xor ebp, ebp            ; terminates frame-pointer backtraces
	push 0                  ; fake return address, keeps 16-byte alignment for the call
	call kmain
.hang:
	hlt
	jmp .hang
