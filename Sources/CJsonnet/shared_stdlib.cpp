// A Jsonnet evaluation that shares one parsed standard library instead of parsing it again.
//
// libjsonnet 0.18 lexes, parses, desugars and analyses std.jsonnet twice per evaluation (once for
// the entrypoint, once for the interpreter's own copy) and once more per imported file, which is
// most of a render's time (docs/decisions.md, "libjsonnet with a shared standard library, until the
// Swift Jsonnet engine").
// Here the library is made once, by the first evaluation, and every evaluation points at it until
// it has gone unused for `releaseAfter`, so that its memory is not held for the agent's life
// (docs/decisions.md, "The shared standard library released after 10 s unused"):
//   - each evaluation's Allocator starts with the library's interned identifiers (the evaluator
//     compares identifiers by address, and std's functions take named arguments), and hands them
//     back before it is freed;
//   - three of libjsonnet's internal calls are redirected, in its own relocation table only, while an
//     evaluation of ours runs on the thread: lexing libjsonnet's own std.jsonnet text lexes `{}` (the
//     desugarer still adds the native builtins and `thisFile`), makeStdlibAST answers the shared
//     library, and static analysis skips it (analysed once) and then gives each file's `std` the
//     shared fields with that file's own `thisFile`.
// The redirections rely on libjsonnet 0.18's internals (headers in jsonnet-0.18/, Apache 2.0, as
// released). They are installed only when the loaded library says it is v0.18.0 and every symbol and
// relocation is found, and kept only when a probe evaluates to the same text both ways; otherwise
// every evaluation goes through jsonnet_evaluate_snippet as before (see lazy.c).
#include "shared_stdlib.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ast.h"
#include "static_error.h"
#include "vm.h"

namespace {

using Interned = std::map<UString, const Identifier *>;

// Allocator keeps its interned identifiers private; an explicit instantiation may name a private
// member, which gives this one accessor.
Interned &interned(Allocator &allocator);
template <Interned Allocator::*Member>
struct InternedAccess {
    friend Interned &interned(Allocator &allocator) { return allocator.*Member; }
};
template struct InternedAccess<&Allocator::internedIdentifiers>;

using Externals = std::map<std::string, VmExt>;
using Lex = Tokens (*)(const std::string &, const char *);
using Parse = AST *(*)(Allocator *, Tokens &);
using Desugar = void (*)(Allocator *, AST *&, Externals *);
using Analyse = void (*)(AST *);
using MakeStdlib = DesugaredObject *(*)(Allocator *, std::string);
using Execute = std::string (*)(
    Allocator *, const AST *, const Externals &, unsigned, double, double, const VmNativeCallbackMap &,
    JsonnetImportCallback *, void *, bool);

struct {
    Lex lex;
    Parse parse;
    Desugar desugar;
    Analyse analyse;
    MakeStdlib makeStdlib;
    Execute execute;
} library;

// libjsonnet's own std.jsonnet text, as its desugarer lexes it: seen while installing.
const char *stdSource;
bool capturingStdSource = false;

// A made standard library.
struct Stdlib {
    // Owns every node and identifier of it.
    Allocator *allocator;
    DesugaredObject *object;
    // Its fields without `thisFile`, which each file gets its own of.
    DesugaredObject::Fields fields;
    const Identifier *stdIdentifier;
};

// The library evaluations share, made when needed and released after `releaseAfter` unused.
// Both are never destroyed: the releasing thread waits on them while exit runs static destructors,
// and glibc's pthread_cond_destroy blocks until its waiters leave (`etcha build` hung at exit).
std::mutex &sharedMutex = *new std::mutex;
// Signalled when the library is made, when the last evaluation using it ends, and when
// `releaseAfter` changes: what the releasing thread waits for.
std::condition_variable &sharedChanged = *new std::condition_variable;
Stdlib *shared;  // guarded by sharedMutex, as are the four below
size_t evaluationsUsingShared;
std::chrono::steady_clock::time_point lastUsed;
std::chrono::seconds releaseAfter(10);
unsigned long releases;

// The library an evaluation of ours on this thread uses; the redirected calls pass through when null.
thread_local const Stdlib *inUse = nullptr;

bool isThisFile(const DesugaredObject::Field &field) {
    return field.name->type == AST_LITERAL_STRING && static_cast<LiteralString *>(field.name)->value == U"thisFile";
}

// A desugared file is `local std = <object>; <file>`; give that object the library's fields and keep
// its `thisFile`. Throws when the tree is not shaped so: the file would see an incomplete std.
void completeStdlib(AST *ast, const Stdlib &stdlib) {
    if (ast->type != AST_LOCAL) throw StaticError(ast->location, "internal error: no std binding");
    auto *local = static_cast<Local *>(ast);
    if (local->binds.size() != 1 || local->binds[0].var != stdlib.stdIdentifier ||
        local->binds[0].body->type != AST_DESUGARED_OBJECT) {
        throw StaticError(ast->location, "internal error: no std binding");
    }
    auto *object = static_cast<DesugaredObject *>(local->binds[0].body);
    if (object->fields.empty() || !isThisFile(object->fields.back())) {
        throw StaticError(ast->location, "internal error: std has no thisFile");
    }
    DesugaredObject::Field thisFile = object->fields.back();
    object->fields = stdlib.fields;
    object->fields.push_back(thisFile);
}

// The redirected calls. Only the library's own text is replaced, by address: a file of a pattern named
// std.jsonnet is lexed as it is.
Tokens lex(const std::string &filename, const char *input) {
    if (capturingStdSource && filename == "std.jsonnet") stdSource = input;
    if (inUse != nullptr && input == stdSource) return library.lex(filename, "{}");
    return library.lex(filename, input);
}

DesugaredObject *makeStdlib(Allocator *allocator, std::string filename) {
    if (inUse != nullptr) return inUse->object;
    return library.makeStdlib(allocator, filename);
}

void analyse(AST *ast) {
    if (inUse == nullptr) return library.analyse(ast);
    if (ast == inUse->object) return;
    // Analysed with the small std (builtins and thisFile), which binds nothing the full one would not:
    // every std field is closed.
    library.analyse(ast);
    completeStdlib(ast, *inUse);
}

// Makes a library (its lexing passes through: no evaluation of ours runs on this thread yet).
Stdlib *newStdlib() {
    auto *allocator = new Allocator();
    try {
        DesugaredObject *object = library.makeStdlib(allocator, "__internal__");
        library.analyse(object);
        const Interned &identifiers = interned(*allocator);
        auto std = identifiers.find(U"std");
        if (std == identifiers.end()) throw std::runtime_error("std.jsonnet binds no std");
        auto *stdlib = new Stdlib{allocator, object, {}, std->second};
        for (const auto &field : object->fields) {
            if (!isThisFile(field)) stdlib->fields.push_back(field);
        }
        return stdlib;
    } catch (...) {
        delete allocator;
        return nullptr;
    }
}

// Frees the shared library once it has gone unused for `releaseAfter`; runs for the process's life,
// asleep while there is no library or an evaluation uses it.
void releaseWhenUnused() {
    std::unique_lock<std::mutex> lock(sharedMutex);
    for (;;) {
        if (shared == nullptr || evaluationsUsingShared > 0) {
            sharedChanged.wait(lock);
            continue;
        }
        const auto deadline = lastUsed + releaseAfter;
        if (std::chrono::steady_clock::now() < deadline) {
            sharedChanged.wait_until(lock, deadline);
            continue;
        }
        Stdlib *released = shared;
        shared = nullptr;
        releases++;
        lock.unlock();
        delete released->allocator;
        delete released;
        malloc_trim(0);
        lock.lock();
    }
}

// For one evaluation on this thread: the shared library (made if needed), and its identifiers in the
// evaluation's Allocator, taken back before that Allocator frees what it holds.
struct UsingShared {
    Allocator &allocator;
    const Stdlib *stdlib = nullptr;

    explicit UsingShared(Allocator &allocator) : allocator(allocator) {
        {
            std::lock_guard<std::mutex> lock(sharedMutex);
            if (shared == nullptr) {
                shared = newStdlib();
                if (shared == nullptr) throw std::runtime_error("cannot make the Jsonnet standard library");
                sharedChanged.notify_one();
            }
            stdlib = shared;
            evaluationsUsingShared++;
        }
        try {
            interned(allocator) = interned(*stdlib->allocator);
        } catch (...) {
            stopUsing();
            throw;
        }
        inUse = stdlib;
    }

    ~UsingShared() {
        inUse = nullptr;
        Interned &own = interned(allocator);
        for (const auto &pair : interned(*stdlib->allocator)) own.erase(pair.first);
        stopUsing();
    }

    static void stopUsing() {
        std::lock_guard<std::mutex> lock(sharedMutex);
        lastUsed = std::chrono::steady_clock::now();
        if (--evaluationsUsingShared == 0) sharedChanged.notify_one();
    }
};

// libjsonnet's defaults (JsonnetVm's constructor) and its message formats.
constexpr unsigned maxStack = 500;
constexpr unsigned maxTrace = 20;
constexpr double gcMinObjects = 1000;
constexpr double gcGrowthTrigger = 2.0;

char *copy(const std::string &text) {
    char *out = static_cast<char *>(std::malloc(text.size() + 1));
    if (out != nullptr) std::memcpy(out, text.c_str(), text.size() + 1);
    return out;
}

char *evaluate(const char *filename, const char *snippet, const etcha_jsonnet_callbacks *callbacks, int *error) {
    try {
        VmNativeCallbackMap natives;
        for (size_t index = 0; index < callbacks->native_count; index++) {
            const etcha_jsonnet_native &native = callbacks->natives[index];
            VmNativeCallback entry{native.callback, native.context, {}};
            for (const char *const *parameter = native.parameters; *parameter != nullptr; parameter++) {
                entry.params.emplace_back(*parameter);
            }
            natives[native.name] = entry;
        }
        Allocator allocator;
        UsingShared using_(allocator);
        Tokens tokens = library.lex(filename, snippet);
        AST *expression = library.parse(&allocator, tokens);
        Externals topLevelArguments;
        library.desugar(&allocator, expression, &topLevelArguments);
        analyse(expression);
        // One frame for the std binding, one for the top-level-arguments wrapper, as libjsonnet adds.
        std::string json = library.execute(
            &allocator, expression, Externals{}, maxStack + 2, gcMinObjects, gcGrowthTrigger, natives,
            callbacks->import_callback, callbacks->import_context, false);
        json += "\n";
        *error = 0;
        return copy(json);
    } catch (StaticError &failure) {
        std::stringstream message;
        message << "STATIC ERROR: " << failure << std::endl;
        *error = 1;
        return copy(message.str());
    } catch (RuntimeError &failure) {
        std::stringstream message;
        message << "RUNTIME ERROR: " << failure.msg << std::endl;
        const long above = maxTrace / 2;
        const long below = maxTrace - above;
        const long size = failure.stackTrace.size();
        for (long index = 0; index < size; ++index) {
            const auto &frame = failure.stackTrace[index];
            if (index >= above && index < size - below) {
                if (index == above) message << "\t..." << std::endl;
            } else {
                message << "\t" << frame.location << "\t" << frame.name << std::endl;
            }
        }
        *error = 1;
        return copy(message.str());
    } catch (std::exception &failure) {
        *error = 1;
        return copy(std::string("RUNTIME ERROR: internal error: ") + failure.what() + "\n");
    }
}

// The relocation-table entries of libjsonnet that its calls to `symbols` go through.
bool findSlots(void *handle, const char *const *symbols, void ***slots, size_t count) {
    struct link_map *map = nullptr;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return false;
    const uintptr_t base = map->l_addr;
    auto address = [base](ElfW(Addr) value) { return value < base ? value + base : value; };
    const ElfW(Rela) *relocations = nullptr;
    size_t relocationsSize = 0;
    const ElfW(Sym) *symbolTable = nullptr;
    const char *strings = nullptr;
    for (const ElfW(Dyn) *entry = map->l_ld; entry->d_tag != DT_NULL; entry++) {
        switch (entry->d_tag) {
        case DT_JMPREL: relocations = reinterpret_cast<const ElfW(Rela) *>(address(entry->d_un.d_ptr)); break;
        case DT_PLTRELSZ: relocationsSize = entry->d_un.d_val; break;
        case DT_SYMTAB: symbolTable = reinterpret_cast<const ElfW(Sym) *>(address(entry->d_un.d_ptr)); break;
        case DT_STRTAB: strings = reinterpret_cast<const char *>(address(entry->d_un.d_ptr)); break;
        case DT_PLTREL:
            if (entry->d_un.d_val != DT_RELA) return false;
            break;
        }
    }
    if (relocations == nullptr || symbolTable == nullptr || strings == nullptr) return false;
    for (size_t index = 0; index < count; index++) slots[index] = nullptr;
    for (size_t index = 0; index < relocationsSize / sizeof(ElfW(Rela)); index++) {
        const ElfW(Rela) &relocation = relocations[index];
        if (ELF64_R_TYPE(relocation.r_info) != R_X86_64_JUMP_SLOT) continue;
        const char *name = strings + symbolTable[ELF64_R_SYM(relocation.r_info)].st_name;
        for (size_t wanted = 0; wanted < count; wanted++) {
            if (std::strcmp(name, symbols[wanted]) == 0) {
                slots[wanted] = reinterpret_cast<void **>(base + relocation.r_offset);
            }
        }
    }
    for (size_t index = 0; index < count; index++) {
        if (slots[index] == nullptr) return false;
    }
    return true;
}

// The address range libjsonnet's loader made read-only after relocating (PT_GNU_RELRO), found by the
// load address.
struct ReadOnlyRange {
    uintptr_t base, start = 0, end = 0;
};

int findReadOnlyRange(struct dl_phdr_info *info, size_t, void *data) {
    auto *range = static_cast<ReadOnlyRange *>(data);
    if (info->dlpi_addr != range->base) return 0;
    for (ElfW(Half) index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) &header = info->dlpi_phdr[index];
        if (header.p_type == PT_GNU_RELRO) {
            range->start = range->base + header.p_vaddr;
            range->end = range->start + header.p_memsz;
        }
    }
    return 1;
}

// Writes `values` into `slots`; a page in the read-only range is made writable for the write and
// read-only again, any other is left writable as the loader left it.
bool writeSlots(void *handle, void ***slots, void *const *values, size_t count) {
    struct link_map *map = nullptr;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return false;
    ReadOnlyRange readOnly{map->l_addr};
    dl_iterate_phdr(findReadOnlyRange, &readOnly);
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    for (size_t index = 0; index < count; index++) {
        const uintptr_t slot = reinterpret_cast<uintptr_t>(slots[index]);
        void *start = reinterpret_cast<void *>(slot & ~(page - 1));
        if (mprotect(start, page, PROT_READ | PROT_WRITE) != 0) return false;
        __atomic_store_n(slots[index], values[index], __ATOMIC_SEQ_CST);
        const bool relocatedReadOnly = slot >= readOnly.start && slot < readOnly.end;
        if (relocatedReadOnly && mprotect(start, page, PROT_READ) != 0) return false;
    }
    return true;
}

const char *const lexSymbol = "_Z11jsonnet_lexRKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEPKc";
const char *const parseSymbol = "_Z13jsonnet_parseP9AllocatorRNSt7__cxx114listI5TokenSaIS3_EEE";
const char *const desugarSymbol =
    "_Z15jsonnet_desugarP9AllocatorRP3ASTPSt3mapINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE5VmExtSt4lessISA_"
    "ESaISt4pairIKSA_SB_EEE";
const char *const analyseSymbol = "_Z23jsonnet_static_analysisP3AST";
const char *const makeStdlibSymbol = "_Z13makeStdlibASTP9AllocatorNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE";
const char *const executeSymbol =
    "_Z18jsonnet_vm_executeP9AllocatorPK3ASTRKSt3mapINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE5VmExtSt4lessISA_"
    "ESaISt4pairIKSA_SB_EEEjddRKS4_ISA_16VmNativeCallbackSD_SaISE_ISF_SL_EEEPFPcPvPKcSU_PSR_PiESS_b";

}  // namespace

extern "C" int etcha_shared_stdlib_install(void *handle) {
    auto version = reinterpret_cast<const char *(*)()>(dlsym(handle, "jsonnet_version"));
    if (version == nullptr || std::strcmp(version(), "v0.18.0") != 0) return 0;
    library.lex = reinterpret_cast<Lex>(dlsym(handle, lexSymbol));
    library.parse = reinterpret_cast<Parse>(dlsym(handle, parseSymbol));
    library.desugar = reinterpret_cast<Desugar>(dlsym(handle, desugarSymbol));
    library.analyse = reinterpret_cast<Analyse>(dlsym(handle, analyseSymbol));
    library.makeStdlib = reinterpret_cast<MakeStdlib>(dlsym(handle, makeStdlibSymbol));
    library.execute = reinterpret_cast<Execute>(dlsym(handle, executeSymbol));
    if (!library.lex || !library.parse || !library.desugar || !library.analyse || !library.makeStdlib ||
        !library.execute) {
        return 0;
    }
    const char *const symbols[] = {lexSymbol, makeStdlibSymbol, analyseSymbol};
    void **slots[3];
    if (!findSlots(handle, symbols, slots, 3)) return 0;
    // Redirected first, so that making the library shows the lexer libjsonnet's std.jsonnet text; until
    // an evaluation of ours runs, the redirections call libjsonnet's functions unchanged.
    void *const replacements[] = {
        reinterpret_cast<void *>(&lex), reinterpret_cast<void *>(&makeStdlib), reinterpret_cast<void *>(&analyse)};
    if (!writeSlots(handle, slots, replacements, 3)) return 0;
    capturingStdSource = true;
    Stdlib *first = newStdlib();
    capturingStdSource = false;
    if (first == nullptr || stdSource == nullptr) return 0;
    shared = first;
    lastUsed = std::chrono::steady_clock::now();
    std::thread(releaseWhenUnused).detach();
    return 1;
}

extern "C" char *etcha_shared_stdlib_evaluate(
    const char *filename, const char *snippet, const etcha_jsonnet_callbacks *callbacks, int *error) {
    return evaluate(filename, snippet, callbacks, error);
}

extern "C" void etcha_jsonnet_release_stdlib_after(unsigned seconds) {
    std::lock_guard<std::mutex> lock(sharedMutex);
    releaseAfter = std::chrono::seconds(seconds);
    sharedChanged.notify_one();
}

extern "C" unsigned long etcha_jsonnet_stdlib_releases(void) {
    std::lock_guard<std::mutex> lock(sharedMutex);
    return releases;
}
