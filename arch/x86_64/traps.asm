; Interrupt and exception entry stubs: every vector pushes (error code or 0, vector number), saves
; the general registers into a struct trap_frame (arch/x86_64/trap.h) and calls trap_dispatch.
bits 64
default rel

extern trap_dispatch

; Vectors whose CPU frame carries an error code.
%define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

section .text
%assign v 0
%rep 256
align 16
trap_stub_ %+ v:
%if HAS_ERR(v) == 0
	push 0
%endif
	push v
	jmp trap_common
%assign v v+1
%endrep

trap_common:
	push rax
	push rbx
	push rcx
	push rdx
	push rsi
	push rdi
	push rbp
	push r8
	push r9
	push r10
	push r11
	push r12
	push r13
	push r14
	push r15
	mov rdi, rsp            ; struct trap_frame *
	mov rbp, [rsp + 17*8]   ; interrupted RIP as a pseudo frame: backtraces walk through traps
	push rbp
	push qword [rsp + 8 + 8*8] ; interrupted RBP
	mov rbp, rsp            ; 24 qwords pushed since the CPU's 16-byte aligned frame: aligned
	cld
	call trap_dispatch
	add rsp, 16
	pop r15
	pop r14
	pop r13
	pop r12
	pop r11
	pop r10
	pop r9
	pop r8
	pop rbp
	pop rdi
	pop rsi
	pop rdx
	pop rcx
	pop rbx
	pop rax
	add rsp, 16             ; vector and error code
	iretq

section .rodata
align 8
global trap_stub_table
trap_stub_table:
%assign v 0
%rep 256
	dq trap_stub_ %+ v
%assign v v+1
%endrep

; int arch_probe_read8(const volatile void *addr, uint8_t *out): 0 on success, -1 when the read
; faulted (the trap handler resumes at the fixup with rax = -1).
section .text
global arch_probe_read8, arch_probe_read8_insn, arch_probe_read8_fixup
global arch_probe_write8, arch_probe_write8_insn, arch_probe_write8_fixup
arch_probe_read8:
	xor eax, eax
arch_probe_read8_insn:
	mov cl, [rdi]
	mov [rsi], cl
arch_probe_read8_fixup:
	ret
; int arch_probe_write8(volatile void *addr, uint8_t val)
arch_probe_write8:
	xor eax, eax
arch_probe_write8_insn:
	mov [rdi], sil
arch_probe_write8_fixup:
	ret
; int arch_probe_exec(const void *code): calls code (which must return), 0 when it ran, -1 when the
; instruction fetch faulted (the trap handler pops the return address and resumes at the fixup).
global arch_probe_exec, arch_probe_exec_fixup
arch_probe_exec:
	xor eax, eax
	call rdi
arch_probe_exec_fixup:
	ret
