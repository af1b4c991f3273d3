//! The x64 instruction-length decoder of MSDelta's RIP-relative transform.
//!
//! It is not a general disassembler: it finds how long an instruction is and where its one
//! rewritable 32-bit field is (a RIP-relative displacement, or the operand of a `rel32` call,
//! jump or conditional jump). It must agree with the creator's decoder byte for byte, quirks
//! included, or the walk through a function loses step: so it knows one- and two-byte opcodes
//! only (no VEX, no `0F 38`/`0F 3A` maps), treats `0F 1F` (multi-byte NOP) and a few legacy
//! opcodes as unknown, and an unknown opcode or an instruction cut off by the end of the window
//! ends the instruction where decoding stopped, with nothing to rewrite.

/// How an opcode is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    /// Nothing (before any immediate).
    None,
    /// Not known: decoding stops after the opcode.
    Unknown,
    /// A ModRM byte (and SIB and displacement as it says).
    ModRm,
    /// A direct memory offset of the address size (`A0`–`A3`).
    Offset,
    /// An 8-bit relative branch.
    Rel8,
    /// A 32-bit relative branch: the rewritable field.
    Rel32,
}

/// The immediate after the operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Immediate {
    None,
    Byte,
    /// 16 bits with an operand-size prefix, else 32.
    Word,
    /// `MOV r, imm`: 64 bits with REX.W, 16 with an operand-size prefix, else 32.
    Full,
    /// `F6` group: a byte for `TEST` (reg 0 or 1) only.
    GroupByte,
    /// `F7` group: a word for `TEST` only.
    GroupWord,
}

fn one_byte(op: u8) -> (Operand, Immediate) {
    use Immediate as I;
    use Operand as O;
    match op {
        // The eight ALU groups: r/m forms, AL/eAX with an immediate, then two legacy opcodes.
        0x00..=0x3f => match op & 7 {
            0..=3 => (O::ModRm, I::None),
            4 => (O::None, I::Byte),
            5 => (O::None, I::Word),
            _ => (O::Unknown, I::None),
        },
        0x40..=0x4f | 0x60..=0x62 | 0x64..=0x67 => (O::Unknown, I::None),
        0x50..=0x5f | 0x6c..=0x6f => (O::None, I::None),
        0x63 => (O::ModRm, I::None),
        0x68 => (O::None, I::Word),
        0x69 => (O::ModRm, I::Word),
        0x6a => (O::None, I::Byte),
        0x6b => (O::ModRm, I::Byte),
        0x70..=0x7f | 0xe0..=0xe3 | 0xeb => (O::Rel8, I::None),
        0x80 | 0x83 => (O::ModRm, I::Byte),
        0x81 => (O::ModRm, I::Word),
        0x82 | 0x9a | 0x9e | 0x9f | 0xc4 | 0xc5 | 0xce | 0xd4..=0xd6 | 0xea => (O::Unknown, I::None),
        0x84..=0x8f | 0xd0..=0xd3 | 0xd8..=0xdf | 0xfe | 0xff => (O::ModRm, I::None),
        0xa0..=0xa3 => (O::Offset, I::None),
        0xa8 | 0xb0..=0xb7 | 0xcd | 0xe4..=0xe7 => (O::None, I::Byte),
        0xa9 | 0xc2 | 0xca => (O::None, I::Word),
        0xb8..=0xbf => (O::None, I::Full),
        0xc0 | 0xc1 | 0xc6 => (O::ModRm, I::Byte),
        0xc7 => (O::ModRm, I::Word),
        0xe8 | 0xe9 => (O::Rel32, I::None),
        0xf6 => (O::ModRm, I::GroupByte),
        0xf7 => (O::ModRm, I::GroupWord),
        _ => (O::None, I::None),
    }
}

fn two_byte(op: u8) -> (Operand, Immediate) {
    use Immediate as I;
    use Operand as O;
    let operand = match op {
        0x0a
        | 0x0c
        | 0x19..=0x1f
        | 0x24..=0x27
        | 0x34..=0x3f
        | 0x78..=0x7d
        | 0xa6
        | 0xa7
        | 0xb8
        | 0xd0
        | 0xf0
        | 0xff => O::Unknown,
        0x04..=0x09 | 0x0b | 0x0e | 0x30..=0x33 | 0x77 | 0xa0..=0xa2 | 0xa8..=0xaa | 0xc8..=0xcf => O::None,
        0x80..=0x8f => O::Rel32,
        _ => O::ModRm,
    };
    let immediate = match op {
        0x0f | 0x70..=0x73 | 0xa4 | 0xac | 0xba | 0xc2 | 0xc4..=0xc6 => I::Byte,
        _ => I::None,
    };
    (operand, immediate)
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instruction {
    /// Length in bytes (at least 1 for a non-empty window).
    pub(crate) len: usize,
    /// Offset in the instruction of the rewritable 32-bit field, if it has one.
    pub(crate) field: Option<usize>,
}

/// Decodes the instruction at the start of `code` (at most 15 bytes of it are looked at).
pub(crate) fn decode(code: &[u8]) -> Instruction {
    let code = &code[..code.len().min(15)];
    let stop = |len: usize| Instruction { len, field: None };
    let mut pos = 0;
    let (mut size16, mut addr32) = (false, false);
    while let Some(&b) = code.get(pos) {
        match b {
            0x66 => size16 = true,
            0x67 => addr32 = true,
            0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0xf0 | 0xf2 | 0xf3 => {}
            _ => break,
        }
        pos += 1;
    }
    let Some(&first) = code.get(pos) else { return stop(pos) };
    let mut rex_w = false;
    if first & 0xf0 == 0x40 {
        rex_w = first & 8 != 0;
        pos += 1;
        match code.get(pos) {
            // A second REX is not a prefix of this instruction: it ends before it.
            None => return stop(pos),
            Some(b) if b & 0xf0 == 0x40 => return stop(pos),
            Some(_) => {}
        }
    }
    let (operand, immediate) = if code[pos] == 0x0f {
        pos += 1;
        let Some(&op) = code.get(pos) else { return stop(pos) };
        two_byte(op)
    } else {
        one_byte(code[pos])
    };
    pos += 1;
    let left = |pos: usize| code.len() - pos;
    let mut field = None;
    let mut group_immediate = false;
    match operand {
        Operand::Unknown => return stop(pos),
        Operand::None => {}
        Operand::ModRm => {
            let Some(&modrm) = code.get(pos) else { return stop(pos) };
            pos += 1;
            let (md, reg, rm) = (modrm >> 6, (modrm >> 3) & 7, modrm & 7);
            group_immediate = reg <= 1;
            let displacement = match (md, rm) {
                (3, _) => 0,
                (0, 5) => {
                    if left(pos) < 4 {
                        return stop(pos);
                    }
                    field = Some(pos);
                    4
                }
                (_, 4) => {
                    let Some(&sib) = code.get(pos) else { return stop(pos) };
                    pos += 1;
                    match md {
                        0 if sib & 7 == 5 => 4,
                        0 => 0,
                        1 => 1,
                        _ => 4,
                    }
                }
                (1, _) => 1,
                (2, _) => 4,
                _ => 0,
            };
            if left(pos) < displacement {
                return stop(pos);
            }
            pos += displacement;
        }
        Operand::Offset => {
            let n = if addr32 { 4 } else { 8 };
            if left(pos) < n {
                return stop(pos);
            }
            pos += n;
        }
        Operand::Rel8 => {
            if left(pos) < 1 {
                return stop(pos);
            }
            pos += 1;
        }
        Operand::Rel32 => {
            if left(pos) < 4 {
                return stop(pos);
            }
            field = Some(pos);
            pos += 4;
        }
    }
    let word = if size16 { 2 } else { 4 };
    let n = match immediate {
        Immediate::None => 0,
        Immediate::Byte => 1,
        Immediate::Word => word,
        Immediate::Full if rex_w => 8,
        Immediate::Full => word,
        Immediate::GroupByte if group_immediate => 1,
        Immediate::GroupWord if group_immediate => word,
        Immediate::GroupByte | Immediate::GroupWord => 0,
    };
    if left(pos) < n {
        return stop(pos);
    }
    Instruction { len: pos + n, field }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(code: &[u8]) -> (usize, Option<usize>) {
        let i = decode(code);
        (i.len, i.field)
    }

    #[test]
    fn rip_relative_and_branches_have_a_field() {
        assert_eq!(d(&[0xff, 0x15, 1, 2, 3, 4]), (6, Some(2)), "call [rip+d]");
        assert_eq!(d(&[0x48, 0x8d, 0x0d, 1, 2, 3, 4]), (7, Some(3)), "lea rcx, [rip+d]");
        assert_eq!(d(&[0xc7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8]), (10, Some(2)), "mov [rip+d], imm32");
        assert_eq!(d(&[0x66, 0x0f, 0x6f, 0x05, 1, 2, 3, 4]), (8, Some(4)), "movdqa xmm0, [rip+d]");
        assert_eq!(d(&[0xe8, 1, 2, 3, 4]), (5, Some(1)));
        assert_eq!(d(&[0x0f, 0x85, 1, 2, 3, 4]), (6, Some(2)));
    }

    #[test]
    fn lengths_of_common_forms() {
        assert_eq!(d(&[0xeb, 0x10]), (2, None));
        assert_eq!(d(&[0x40, 0x53]), (2, None), "push rbx with REX");
        assert_eq!(d(&[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8]), (10, None), "mov rax, imm64");
        assert_eq!(d(&[0x48, 0x89, 0x5c, 0x24, 0x08]), (5, None), "mov [rsp+8], rbx");
        assert_eq!(d(&[0x48, 0x81, 0xec, 1, 2, 3, 4]), (7, None), "sub rsp, imm32");
        assert_eq!(d(&[0xf6, 0x40, 0x10, 0x01]), (4, None), "test byte [rax+10h], 1");
        assert_eq!(d(&[0xf7, 0xd8]), (2, None), "neg eax: no immediate");
        assert_eq!(d(&[0x66, 0x89, 0x08]), (3, None));
        assert_eq!(d(&[0xa1, 1, 2, 3, 4, 5, 6, 7, 8]), (9, None), "mov eax, [moffs64]");
    }

    #[test]
    fn quirks_and_truncation_stop_early() {
        assert_eq!(d(&[0x0f, 0x1f, 0x44, 0x00, 0x00]), (2, None), "multi-byte NOP is not known");
        assert_eq!(d(&[0x48, 0x48, 0x90]), (1, None), "a second REX ends the instruction");
        assert_eq!(d(&[0xe8, 1, 2]), (1, None), "cut-off rel32");
        assert_eq!(d(&[0xff, 0x15, 1]), (2, None), "cut-off displacement");
        assert_eq!(d(&[0x66]), (1, None));
        assert_eq!(d(&[0xc4, 0xe2, 0x79]), (1, None), "VEX is not known");
        for b in 0..=255u8 {
            for c in [0u8, 0x05, 0x44, 0x84, 0xc0] {
                let i = decode(&[b, c, 0x0f, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
                assert!((1..=15).contains(&i.len), "{b:02x} {c:02x}");
                assert!(i.field.is_none_or(|f| f + 4 <= i.len));
            }
        }
    }
}
