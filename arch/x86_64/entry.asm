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

%define CR4_CET_BIT 23           ; control-flow enforcement (x86.h CR4_CET)

section .data
align 8
global boot_firmware_cr4
boot_firmware_cr4:              ; CR4 as the loader entered with it, for cpu_detect's report
	dq 0

section .text.entry
global _start
extern kmain
; CET off before the first call: a firmware may run with CR4.CET and IA32_S_CET enabling supervisor
; shadow stacks or IBT, which the kernel's code is not built for (no ENDBR64 at its indirect
; targets, no shadow stack of its own: the first call would push onto the firmware's). ENDBR64 here
; is a landing pad for a loader's indirect jump while IBT is still on; it is a NOP on other CPUs.
; Clearing a CR4 bit that reads 0 writes CR4 back unchanged, so no CPUID check is needed.
_start:
	endbr64
	cli
	cld
	mov rax, cr4
	mov [boot_firmware_cr4], rax
	btr rax, CR4_CET_BIT
	mov cr4, rax
	lea rsp, [boot_stack_top]
	xor ebp, ebp            ; terminates frame-pointer backtraces
	push 0                  ; fake return address, keeps 16-byte alignment for the call
	call kmain
.hang:
	hlt
	jmp .hang
