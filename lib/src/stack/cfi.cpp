// .eh_frame reader for the fast unwinder (see cfi.hpp): .eh_frame_hdr binary search, CIE/FDE
// parsing, the CFA program up to a pc. No lock, no allocation; any malformed or unusual input
// gives an Unknown rule (libunwind then unwinds that stack).
#include "stack/cfi.hpp"

#include <cstring>
#include <dlfcn.h>

namespace memtrack::detail {

namespace {

// DWARF x86-64 register numbers.
constexpr unsigned kRbp = 6;
constexpr unsigned kRsp = 7;

struct Reader {
    const std::uint8_t* p;
    const std::uint8_t* end;
    bool ok = true;

    template <class T> T fixed() noexcept
    {
        T v{};
        if (end - p < static_cast<std::ptrdiff_t>(sizeof v)) {
            ok = false;
            return v;
        }
        std::memcpy(&v, p, sizeof v);
        p += sizeof v;
        return v;
    }
    std::uint64_t uleb() noexcept
    {
        std::uint64_t v = 0;
        for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
            const std::uint8_t b = *p++;
            v |= std::uint64_t{b & 0x7fu} << shift;
            if (!(b & 0x80)) return v;
        }
        ok = false;
        return v;
    }
    std::int64_t sleb() noexcept
    {
        std::int64_t v = 0;
        unsigned shift = 0;
        for (; p < end && shift < 64;) {
            const std::uint8_t b = *p++;
            v |= static_cast<std::int64_t>(std::uint64_t{b & 0x7fu} << shift);
            shift += 7;
            if (!(b & 0x80)) {
                if (shift < 64 && (b & 0x40)) v |= -(std::int64_t{1} << shift);
                return v;
            }
        }
        ok = false;
        return v;
    }
    // A pointer in DW_EH_PE encoding `enc`; `datarel` is the base of datarel forms.
    std::uintptr_t encoded(std::uint8_t enc, std::uintptr_t datarel = 0) noexcept
    {
        if (enc == 0xff) return 0;  // DW_EH_PE_omit
        const auto here = reinterpret_cast<std::uintptr_t>(p);
        std::uintptr_t v = 0;
        switch (enc & 0x0f) {
        case 0x00: v = fixed<std::uint64_t>(); break;
        case 0x01: v = uleb(); break;
        case 0x02: v = fixed<std::uint16_t>(); break;
        case 0x03: v = fixed<std::uint32_t>(); break;
        case 0x04: v = fixed<std::uint64_t>(); break;
        case 0x09: v = static_cast<std::uintptr_t>(sleb()); break;
        case 0x0a: v = static_cast<std::uintptr_t>(std::int64_t{fixed<std::int16_t>()}); break;
        case 0x0b: v = static_cast<std::uintptr_t>(std::int64_t{fixed<std::int32_t>()}); break;
        case 0x0c: v = fixed<std::uint64_t>(); break;
        default: ok = false; return 0;
        }
        switch (enc & 0x70) {
        case 0x00: break;
        case 0x10: v += here; break;
        case 0x30: v += datarel; break;
        default: ok = false; return 0;
        }
        return v;  // DW_EH_PE_indirect (0x80) only appears on the personality, never read
    }
    void skip(std::uint64_t n) noexcept
    {
        if (static_cast<std::uint64_t>(end - p) < n) {
            ok = false;
            p = end;
        } else {
            p += n;
        }
    }
};

// How one register is recovered in the caller, for the registers the shapes name.
struct RegRule {
    enum How : std::uint8_t { Same, Undefined, CfaRel, Other };
    How how = Same;
    std::int64_t off = 0;
};

struct Row {
    unsigned cfa_reg = kRsp;
    std::int64_t cfa_off = 0;
    bool cfa_expr = false;
    RegRule rbp, rsp, ra;
};

struct Cie {
    std::uint64_t code_align = 1;
    std::int64_t data_align = 1;
    unsigned ra_reg = 16;
    std::uint8_t fde_enc = 0;
    bool has_z = false;
    bool signal = false;
    const std::uint8_t* insns = nullptr;
    const std::uint8_t* insns_end = nullptr;
};

bool parse_cie(const std::uint8_t* at, const std::uint8_t* limit, Cie& cie) noexcept
{
    Reader r{at, limit};
    const std::uint32_t len = r.fixed<std::uint32_t>();
    if (!r.ok || len == 0 || len == 0xffffffffu || len > static_cast<std::uint64_t>(limit - r.p))
        return false;
    r.end = r.p + len;
    if (r.fixed<std::uint32_t>() != 0) return false;  // CIE id
    const std::uint8_t version = r.fixed<std::uint8_t>();
    if (version != 1 && version != 3) return false;
    const auto* aug = reinterpret_cast<const char*>(r.p);
    const std::size_t aug_len = strnlen(aug, static_cast<std::size_t>(r.end - r.p));
    r.skip(aug_len + 1);
    cie.code_align = r.uleb();
    cie.data_align = r.sleb();
    cie.ra_reg = version == 1 ? r.fixed<std::uint8_t>() : static_cast<unsigned>(r.uleb());
    const std::uint8_t* aug_end = nullptr;
    for (std::size_t i = 0; i < aug_len && r.ok; ++i) {
        switch (aug[i]) {
        case 'z': {
            cie.has_z = true;
            const std::uint64_t n = r.uleb();
            if (n > static_cast<std::uint64_t>(r.end - r.p)) return false;
            aug_end = r.p + n;
            break;
        }
        case 'R': cie.fde_enc = r.fixed<std::uint8_t>(); break;
        case 'L': r.fixed<std::uint8_t>(); break;
        case 'P': {
            const std::uint8_t enc = r.fixed<std::uint8_t>();
            r.encoded(enc & 0x7f);
            break;
        }
        case 'S': cie.signal = true; break;
        default:
            if (aug_end == nullptr) return false;  // unknown and no 'z' length to skip it
            i = aug_len;
            break;
        }
    }
    if (!r.ok || !cie.has_z) return false;
    r.p = aug_end;
    cie.insns = r.p;
    cie.insns_end = r.end;
    return cie.ra_reg != kRbp && cie.ra_reg != kRsp;
}

RegRule* tracked(Row& row, const Cie& cie, std::uint64_t reg) noexcept
{
    if (reg == kRbp) return &row.rbp;
    if (reg == kRsp) return &row.rsp;
    if (reg == cie.ra_reg) return &row.ra;
    return nullptr;
}

RegRule initial_rule(const Row& initial, const Cie& cie, std::uint64_t reg) noexcept
{
    Row copy = initial;
    const RegRule* rule = tracked(copy, cie, reg);
    return rule != nullptr ? *rule : RegRule{};
}

// Runs a CFA program from `loc` while the location stays <= pc (as libunwind's
// run_cfi_program). `initial` is the CIE's row for DW_CFA_restore. False on anything it cannot
// follow.
bool run_program(const std::uint8_t* p, const std::uint8_t* end, const Cie& cie,
                 std::uintptr_t loc, std::uintptr_t pc, const Row& initial, Row& row) noexcept
{
    constexpr int kStack = 8;
    Row saved[kStack];
    int depth = 0;
    Reader r{p, end};
    auto set = [&](std::uint64_t reg, RegRule::How how, std::int64_t off) {
        if (RegRule* rule = tracked(row, cie, reg)) *rule = {how, off};
    };
    while (r.p < r.end && loc <= pc) {
        const std::uint8_t op = r.fixed<std::uint8_t>();
        const std::uint8_t low = op & 0x3f;
        switch (op & 0xc0) {
        case 0x40: loc += low * cie.code_align; continue;  // advance_loc
        case 0x80:                                          // offset
            set(low, RegRule::CfaRel, static_cast<std::int64_t>(r.uleb()) * cie.data_align);
            continue;
        case 0xc0:  // restore
            if (RegRule* rule = tracked(row, cie, low)) *rule = initial_rule(initial, cie, low);
            continue;
        default: break;
        }
        switch (op) {
        case 0x00: break;                                            // nop
        case 0x01: loc = r.encoded(cie.fde_enc); break;               // set_loc
        case 0x02: loc += r.fixed<std::uint8_t>() * cie.code_align; break;
        case 0x03: loc += r.fixed<std::uint16_t>() * cie.code_align; break;
        case 0x04: loc += r.fixed<std::uint32_t>() * cie.code_align; break;
        case 0x05: {  // offset_extended
            const std::uint64_t reg = r.uleb();
            set(reg, RegRule::CfaRel, static_cast<std::int64_t>(r.uleb()) * cie.data_align);
            break;
        }
        case 0x06: {  // restore_extended
            const std::uint64_t reg = r.uleb();
            if (RegRule* rule = tracked(row, cie, reg))
                *rule = initial_rule(initial, cie, reg);
            break;
        }
        case 0x07: set(r.uleb(), RegRule::Undefined, 0); break;
        case 0x08: set(r.uleb(), RegRule::Same, 0); break;
        case 0x09: {  // register
            const std::uint64_t reg = r.uleb();
            r.uleb();
            set(reg, RegRule::Other, 0);
            break;
        }
        case 0x0a:  // remember_state
            if (depth == kStack) return false;
            saved[depth++] = row;
            break;
        case 0x0b:  // restore_state: the CFA rule too (libunwind restores the whole row)
            if (depth == 0) return false;
            row = saved[--depth];
            break;
        case 0x0c:  // def_cfa
            row.cfa_reg = static_cast<unsigned>(r.uleb());
            row.cfa_off = static_cast<std::int64_t>(r.uleb());
            row.cfa_expr = false;
            break;
        case 0x0d:  // def_cfa_register
            row.cfa_reg = static_cast<unsigned>(r.uleb());
            row.cfa_expr = false;
            break;
        case 0x0e: row.cfa_off = static_cast<std::int64_t>(r.uleb()); break;
        case 0x0f:  // def_cfa_expression
            r.skip(r.uleb());
            row.cfa_expr = true;
            break;
        case 0x10:  // expression
        case 0x16: {  // val_expression
            const std::uint64_t reg = r.uleb();
            r.skip(r.uleb());
            set(reg, RegRule::Other, 0);
            break;
        }
        case 0x11: {  // offset_extended_sf
            const std::uint64_t reg = r.uleb();
            set(reg, RegRule::CfaRel, r.sleb() * cie.data_align);
            break;
        }
        case 0x12:  // def_cfa_sf
            row.cfa_reg = static_cast<unsigned>(r.uleb());
            row.cfa_off = r.sleb() * cie.data_align;
            row.cfa_expr = false;
            break;
        case 0x13: row.cfa_off = r.sleb() * cie.data_align; break;
        case 0x14:    // val_offset
        case 0x15: {  // val_offset_sf
            const std::uint64_t reg = r.uleb();
            if (op == 0x14)
                r.uleb();
            else
                r.sleb();
            set(reg, RegRule::Other, 0);
            break;
        }
        case 0x2e: r.uleb(); break;  // GNU_args_size
        case 0x2f: {                 // GNU_negative_offset_extended
            const std::uint64_t reg = r.uleb();
            set(reg, RegRule::CfaRel, -static_cast<std::int64_t>(r.uleb()) * cie.data_align);
            break;
        }
        default: return false;
        }
        if (!r.ok) return false;
    }
    return r.ok;
}

constexpr bool small(std::int64_t v, std::int64_t limit) noexcept
{
    return v > -limit && v < limit;
}

// libunwind's classification (Gstash_frame.c and Gstep.c's end-of-stack test) of one row.
FrameRule classify(const Row& row, bool signal) noexcept
{
    FrameRule rule;
    rule.cacheable = true;
    if (signal) {
        rule.kind = FrameRule::Signal;
        return rule;
    }
    if (row.cfa_expr) return rule;
    if (row.ra.how == RegRule::Undefined || row.rbp.how == RegRule::Undefined) {
        rule.kind = FrameRule::Last;
        return rule;
    }
    if (row.cfa_reg != kRsp && row.cfa_reg != kRbp) return rule;
    if (!small(row.cfa_off, std::int64_t{1} << 28)) return rule;
    if (row.ra.how != RegRule::CfaRel || row.ra.off != -8) return rule;
    const auto fits = [](const RegRule& reg) {
        return reg.how == RegRule::Same ||
               (reg.how == RegRule::CfaRel && small(reg.off, 1 << 14) && reg.off != -1);
    };
    if (!fits(row.rbp) || !(fits(row.rsp) || row.rsp.how == RegRule::Undefined)) return rule;
    rule.kind = FrameRule::Standard;
    rule.cfa_rbp = row.cfa_reg == kRbp;
    rule.cfa_off = static_cast<std::int32_t>(row.cfa_off);
    rule.rbp_saved = row.rbp.how == RegRule::CfaRel;
    rule.rbp_off = static_cast<std::int32_t>(row.rbp.off);
    return rule;
}

// The FDE for pc from the module's .eh_frame_hdr search table, or nullptr.
const std::uint8_t* find_fde(const std::uint8_t* hdr, std::uintptr_t pc) noexcept
{
    if (hdr[0] != 1) return nullptr;
    const std::uint8_t table_enc = hdr[3];
    Reader r{hdr + 4, hdr + 4 + 32};
    r.encoded(hdr[1], reinterpret_cast<std::uintptr_t>(hdr));  // eh_frame_ptr
    const std::uintptr_t count = r.encoded(hdr[2], reinterpret_cast<std::uintptr_t>(hdr));
    if (!r.ok || table_enc != 0x3b || count == 0) return nullptr;  // datarel | sdata4 only
    const auto base = reinterpret_cast<std::intptr_t>(hdr);
    const std::uint8_t* table = r.p;
    auto entry = [&](std::uintptr_t i, int k) {
        std::int32_t v;
        std::memcpy(&v, table + i * 8 + static_cast<std::uintptr_t>(k) * 4, 4);
        return static_cast<std::uintptr_t>(base + v);
    };
    if (pc < entry(0, 0)) return nullptr;
    std::uintptr_t lo = 0, hi = count;  // the answer is in [lo, hi)
    while (hi - lo > 1) {
        const std::uintptr_t mid = lo + (hi - lo) / 2;
        if (entry(mid, 0) <= pc)
            lo = mid;
        else
            hi = mid;
    }
    return reinterpret_cast<const std::uint8_t*>(entry(lo, 1));
}

}  // namespace

FrameRule rule_for(std::uintptr_t pc) noexcept
{
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0) return {};  // not cacheable
    FrameRule unknown;
    unknown.cacheable = true;
    const auto* hdr = static_cast<const std::uint8_t*>(found.dlfo_eh_frame);
    if (hdr == nullptr) return unknown;
    const std::uint8_t* fde = find_fde(hdr, pc);
    if (fde == nullptr) return unknown;
    // An FDE is at most a few KiB; its CIE precedes it. The limits only bound the readers.
    const std::uint8_t* limit = fde + (std::uintptr_t{1} << 20);
    Reader r{fde, limit};
    const std::uint32_t len = r.fixed<std::uint32_t>();
    if (len == 0 || len == 0xffffffffu) return unknown;
    r.end = r.p + len;
    const std::uint8_t* id_at = r.p;
    const std::uint32_t cie_off = r.fixed<std::uint32_t>();
    if (cie_off == 0) return unknown;
    Cie cie;
    if (!parse_cie(id_at - cie_off, limit, cie)) return unknown;
    const std::uintptr_t begin = r.encoded(cie.fde_enc);
    const std::uintptr_t range = r.encoded(cie.fde_enc & 0x0f);
    if (!r.ok || pc < begin || pc - begin >= range) return unknown;
    r.skip(r.uleb());  // augmentation data (LSDA pointer)
    if (!r.ok) return unknown;
    Row initial;
    if (!run_program(cie.insns, cie.insns_end, cie, 0, ~std::uintptr_t{0}, initial, initial))
        return unknown;
    Row row = initial;
    if (!run_program(r.p, r.end, cie, begin, pc, initial, row)) return unknown;
    return classify(row, cie.signal);
}

}  // namespace memtrack::detail
