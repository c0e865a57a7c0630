; The AP start-up trampoline. smp.c copies the bytes from smp_tramp_start to smp_tramp_end into a
; page below 1 MiB that the physical allocator kept back, fills the data block at its end (struct
; smp_tramp_data in smp.c: keep the two in sync) and sends INIT-SIPI-SIPI with that page's number
; as the vector. The AP starts here in real mode with CS = page >> 4, IP = 0, and goes:
;   real mode -> lgdt (this page's GDT) -> protected mode (flat 32-bit)
;   -> CR4.PAE, CR3 = the start-up tables (below 4 GiB: the page identity-mapped, the kernel's
;      upper half shared), on an Intel boot CPU (TRAMP_CLEAR_XD) XD Bit Disable cleared in this
;      CPU's IA32_MISC_ENABLE (with it set, CPUID hides NX and setting EFER.NXE is a #GP: a triple
;      fault here), EFER.LME (and NXE when the boot CPU uses NX, before any entry with bit 63 is
;      used; a CPU whose CPUID then still shows no NX writes its APIC id + 1 into td_no_nx and
;      halts instead: the tag names it, so a late CPU's flag is not taken for the CPU being started),
;      CR0 = the kernel's CR0 (paging on, caches on) -> compatibility mode
;   -> far jump to 64-bit code -> who am I? -> the AP's stack, smp_ap_main(percpu) in the higher half.
; The data block is shared by every start: a CPU given up on earlier may run this page late, after
; the block was filled for the next CPU. So before it touches anything of the block's CPU (its
; stack, its per-CPU state) the AP reads its own APIC id and halts, writing only td_seen_id (or
; td_no_nx with its id + 1, from the 32-bit code: see .nx_missing), unless
; it is the CPU the block names (td_apic_id); it reads the id again after the stack and entry, so a
; block refilled meanwhile (smp.c writes SMP_TRAMP_NOBODY first and the id last) is not mixed with
; the old one. Its id: the x2APIC ID MSR in x2APIC mode; the xAPIC ID register through the page
; at td_lapic (the kernel's xAPIC mapping, shared by the start-up tables) when its APIC is enabled
; in xAPIC mode and the kernel uses xAPIC mode; else CPUID's: leaf 0xB's x2APIC id (what the APIC
; shows once x2APIC mode is on), or leaf 1's initial APIC id when leaf 0xB is absent.
; 16- and 32-bit code addresses data through offsets from this page (DS = CS in real mode; EBX =
; the page's physical address in protected mode); 64-bit code uses RIP-relative addresses. The
; only absolute addresses, in the far-jump pointers and the GDT pointer, are filled in by smp.c.
bits 16
default abs

%define TRAMP_CODE32 0x08
%define TRAMP_DATA   0x10
%define TRAMP_CODE64 0x18
%define CR4_PAE      (1 << 5)
%define MSR_EFER     0xC0000080
%define CR0_PE       1
%define OFF(x)       ((x) - smp_tramp_start)
%define MSR_APIC_BASE  0x1B
%define APIC_BASE_EXTD (1 << 10)     ; IA32_APIC_BASE: x2APIC mode
%define APIC_BASE_EN   (1 << 11)     ; IA32_APIC_BASE: the APIC is enabled
%define MSR_X2APIC_ID  0x802
%define APIC_REG_ID    0x20          ; xAPIC ID register: the id in bits 31:24
%define APIC_ID_SHIFT  24
%define CPUID_TOPOLOGY 0x0B          ; EDX: the x2APIC id; EBX 0 at level 0: leaf absent
%define CPUID1_ID_SHIFT 24           ; CPUID.1:EBX[31:24], the initial APIC id
%define TRAMP_CLEAR_XD 1             ; td_flags: the boot CPU is Intel, clear XD Bit Disable (smp.c)
%define TRAMP_INJECT_NO_NX 2         ; td_flags: a test's, take the path of a CPU without NX
%define MSR_MISC_ENABLE 0x1A0        ; IA32_MISC_ENABLE (Intel only: a #GP on AMD)
%define MISC_ENABLE_XD_DISABLE_HI (1 << 2) ; its bit 34, XD Bit Disable, in EDX of rdmsr/wrmsr
%define EFER_NXE     (1 << 11)
%define CPUID_EXT_FEATURES 0x80000001 ; EDX bit 20: NX (every CPU with long mode has this leaf)
%define CPUIDX1_EDX_NX (1 << 20)

section .rodata
global smp_tramp_start, smp_tramp_end, smp_tramp_data
align 16
smp_tramp_start:
	cli
	cld
	mov ax, cs
	mov ds, ax
	xor ebx, ebx
	mov bx, ax
	shl ebx, 4                      ; EBX = this page's physical address
	o32 lgdt [OFF(td_gdtr)]
	mov eax, cr0
	or eax, CR0_PE
	mov cr0, eax
	o32 jmp far [OFF(td_pm_ptr)]    ; -> tramp_pm32 through the 32-bit code segment

bits 32
tramp_pm32:
	mov ax, TRAMP_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	xor ax, ax
	mov fs, ax
	mov gs, ax
	mov eax, CR4_PAE
	mov cr4, eax
	mov eax, [ebx + OFF(td_cr3)]
	mov cr3, eax
	mov esi, ebx                    ; CPUID overwrites EBX
	test dword [esi + OFF(td_flags)], TRAMP_CLEAR_XD
	jz .xd_done
	mov ecx, MSR_MISC_ENABLE
	rdmsr
	test edx, MISC_ENABLE_XD_DISABLE_HI
	jz .xd_done
	and edx, ~MISC_ENABLE_XD_DISABLE_HI ; every other bit as it was
	wrmsr
.xd_done:
	test dword [esi + OFF(td_flags)], TRAMP_INJECT_NO_NX
	jnz .nx_missing
	test dword [esi + OFF(td_efer)], EFER_NXE
	jz .nx_done
	mov eax, CPUID_EXT_FEATURES
	cpuid
	test edx, CPUIDX1_EDX_NX
	jnz .nx_done
.nx_missing:                            ; NXE would #GP: say who is halting here, and halt (smp.c reports it)
	; Its id as the 64-bit code reads it, but for the xAPIC ID register, whose page is mapped only
	; once paging is on: the x2APIC ID MSR in x2APIC mode, else CPUID's (leaf 0xB's x2APIC id, or
	; leaf 1's initial APIC id without leaf 0xB), which is the xAPIC id unless firmware rewrote
	; that register: then smp.c reports a stray CPU without NX instead of the one started.
	mov ecx, MSR_APIC_BASE
	rdmsr
	test eax, APIC_BASE_EXTD
	jz .nx_by_cpuid
	mov ecx, MSR_X2APIC_ID
	rdmsr
	jmp .nx_id_known
.nx_by_cpuid:
	xor eax, eax
	cpuid
	cmp eax, CPUID_TOPOLOGY
	jb .nx_by_leaf1
	mov eax, CPUID_TOPOLOGY
	xor ecx, ecx
	cpuid
	test ebx, ebx
	jz .nx_by_leaf1
	mov eax, edx
	jmp .nx_id_known
.nx_by_leaf1:
	mov eax, 1
	cpuid
	shr ebx, CPUID1_ID_SHIFT
	mov eax, ebx
.nx_id_known:                           ; EAX = this CPU's APIC id
	inc eax                         ; + 1: 0 stays "none" (smp_tramp_tag in smp.c)
	mov [esi + OFF(td_no_nx)], eax
.no_nx:
	cli
	hlt
	jmp .no_nx
.nx_done:
	mov ebx, esi
	mov ecx, MSR_EFER
	rdmsr
	or eax, [ebx + OFF(td_efer)]   ; LME, and NXE when the boot CPU uses NX
	wrmsr
	mov eax, [ebx + OFF(td_cr0)]   ; the kernel's CR0: PG turns long mode on
	mov cr0, eax
	jmp far [ebx + OFF(td_lm_ptr)]  ; -> tramp_lm64 through the 64-bit code segment

bits 64
tramp_lm64:
	mov ecx, MSR_APIC_BASE
	rdmsr
	test eax, APIC_BASE_EXTD
	jz .not_x2apic
	mov ecx, MSR_X2APIC_ID
	rdmsr
	mov r9d, eax
	jmp .id_known
.not_x2apic:
	mov rsi, [rel td_lapic]         ; 0 when the kernel uses x2APIC mode: the page is not mapped
	test rsi, rsi
	jz .by_cpuid
	test eax, APIC_BASE_EN
	jz .by_cpuid
	mov r9d, [rsi + APIC_REG_ID]
	shr r9d, APIC_ID_SHIFT
	jmp .id_known
.by_cpuid:
	xor eax, eax
	cpuid
	cmp eax, CPUID_TOPOLOGY
	jb .by_leaf1
	mov eax, CPUID_TOPOLOGY
	xor ecx, ecx
	cpuid
	test ebx, ebx
	jz .by_leaf1
	mov r9d, edx
	jmp .id_known
.by_leaf1:
	mov eax, 1
	cpuid
	shr ebx, CPUID1_ID_SHIFT
	mov r9d, ebx
.id_known:                              ; R9D = this CPU's APIC id
	mov r10d, [rel td_apic_id]
	cmp r9d, r10d
	jne .not_mine
	mov rsp, [rel td_stack]
	mov rdi, [rel td_percpu]
	mov rax, [rel td_entry]
	cmp r10d, [rel td_apic_id]      ; the same block still: not refilled while the fields were read
	jne .not_mine
	xor ebp, ebp                    ; ends frame-pointer backtraces
	push rbp                        ; a zero return address: the entry is entered as if called
	jmp rax
.not_mine:                              ; another CPU's block: say who ran it, touch nothing else
	mov [rel td_seen_id], r9d
.halt:
	cli
	hlt
	jmp .halt

; The accessed bits are preset: loading a selector would otherwise write them into this page.
align 8
tramp_gdt:
	dq 0
	dq 0x00CF9B000000FFFF           ; 0x08: 32-bit code, flat
	dq 0x00CF93000000FFFF           ; 0x10: data, flat
	dq 0x00209B0000000000           ; 0x18: 64-bit code
tramp_gdt_end:

; struct smp_tramp_data (smp.c). The far pointers are m16:32; the GDT pointer is limit16, base32.
align 8
smp_tramp_data:
td_pm_ptr:  dd 0                    ; physical address of tramp_pm32
            dw TRAMP_CODE32
            dw 0
td_lm_ptr:  dd 0                    ; physical address of tramp_lm64
            dw TRAMP_CODE64
            dw 0
td_gdtr:    dw tramp_gdt_end - tramp_gdt - 1
            dd 0                    ; physical address of tramp_gdt
            dw 0
td_cr3:     dd 0
td_efer:    dd 0
td_cr0:     dd 0
td_flags:   dd 0                    ; TRAMP_CLEAR_XD, TRAMP_INJECT_NO_NX
td_stack:   dq 0
td_percpu:  dq 0
td_entry:   dq 0
td_lapic:   dq 0                    ; the xAPIC page's kernel address, 0 in x2APIC mode
td_apic_id: dd 0                    ; the APIC id of the CPU this block is filled for
td_seen_id: dd 0                    ; written by a CPU that found the block naming another
td_no_nx:   dd 0                    ; APIC id + 1 of a CPU without NX when td_efer has NXE (or injected)
td_pad:     dd 0
td_offsets: dd OFF(tramp_pm32), OFF(tramp_lm64), OFF(tramp_gdt), 0
smp_tramp_end:
