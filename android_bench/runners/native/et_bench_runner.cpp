/*
 * et_bench_runner: a small ExecuTorch latency benchmark for one .pte file.
 *
 *   et_bench_runner --model model.pte [--warmup 3] [--num-runs 30] [--threads N]
 *                   [--input-value-range 0,1000] [--input-shapes 1x128,1x128,1x128]
 *                   [--input-files ids.bin:mask.bin:types.bin] [--output-dir DIR]
 *
 * Loads the program, method `forward`, fills every input from its declared shape and dtype (integers:
 * values drawn from the inclusive range with a fixed seed; floats: 0.5), runs the warm-up executions and
 * then the timed ones, and prints in the format of upstream ExecuTorch's executor_runner so that
 * android_bench.runners.executorch.parse_executor_runner reads both:
 *
 *   Model loaded in X ms.
 *   Warm-up i of W: X ms              (the first is the first inference after loading)
 *   Iteration i of N: X ms            (one line per timed run)
 *   Model executed successfully N time(s) in X ms.   (X = sum of the timed runs)
 *   Peak resident set size: K kB      (getrusage; ours, not upstream's)
 *
 * --input-value-range is LOW,HIGH for every integer input, or one LOW,HIGH per input in input order
 * joined by ':' (e.g. 1000,1999:1,1:0,0 for input_ids, attention_mask, token_type_ids).
 * --input-shapes follows executor_runner's --input_shapes: one entry per input, dims joined by 'x', an
 * empty entry keeps the declared shape (the upper bound of a dynamic axis).
 *
 * --input-files feeds given values instead: one raw file per input in input order, joined by ':', holding
 * the tensor's elements in its declared dtype, native byte order (numpy's tofile()); the shape is the
 * declared one or --input-shapes'. --output-dir writes each output of the last timed run as DIR/output_<i>.npy,
 * so the outputs of an ARM build can be compared with those of the desktop runtimes.
 *
 * Built by android_bench/runners/native/build.py against the executorch wheel's headers and shared libraries;
 * the XNNPACK delegate, the CPU kernels and the quantized kernels register themselves from static
 * initialisers when their libraries are loaded. Errors: one line on stderr, non-zero exit.
 */
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>
#include <executorch/runtime/core/error.h>
#include <executorch/runtime/core/evalue.h>
#include <executorch/runtime/platform/platform.h>
#include <executorch/runtime/platform/runtime.h>

#if defined(ET_USE_THREADPOOL)
#include <executorch/extension/threadpool/threadpool_guard.h>
#if __has_include(<executorch/extension/threadpool/threadpool.h>)
#include <executorch/extension/threadpool/threadpool.h>
#else
// The wheel ships libexecutorch_threadpool.so (which the XNNPACK delegate and the optimized kernels take
// their pthreadpool from) and threadpool_guard.h, but not threadpool.h. These are the exported functions
// upstream's executor_runner calls for --cpu_threads, declared as in that header (no data members are
// touched here, only member functions on the library's own instance).
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
} // namespace executorch::extension::threadpool
#endif
#endif

using executorch::aten::ScalarType;
using executorch::extension::Module;
using executorch::extension::TensorPtr;
using executorch::runtime::Error;
using executorch::runtime::EValue;
using executorch::runtime::MethodMeta;
using executorch::runtime::Tag;

namespace {

const char* const kProg = "et_bench_runner";
const char* const kMethod = "forward";

// The runtime's first error-level log message of the current phase (usually the cause; later ones are
// the call stack's follow-ups), kept for the one-line error. A fixed buffer so the crash handler can read
// it without allocating.
char g_last_log[512] = "";
bool g_verbose = false;
const char* volatile g_phase = "starting";

void set_phase(const char* phase) {
  g_phase = phase;
  g_last_log[0] = '\0';
}

void capture_log(
    et_timestamp_t, et_pal_log_level_t level, const char* filename, const char*, size_t line,
    const char* message, size_t length) {
  while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\r')) {
    --length;
  }
  if (g_verbose) {
    fprintf(stderr, "%c %s:%zu] %.*s\n", static_cast<char>(level), filename ? filename : "?", line,
            static_cast<int>(length), message);
  }
  if ((level == kError || level == kFatal) && g_last_log[0] == '\0') {
    size_t n = length < sizeof(g_last_log) - 1 ? length : sizeof(g_last_log) - 1;
    for (size_t i = 0; i < n; ++i) {  // one printable line, whatever bytes a corrupt file put in it
      const unsigned char c = static_cast<unsigned char>(message[i]);
      g_last_log[i] = c == '\n' || c == '\r' || c == '\t' ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : message[i];
    }
    g_last_log[n] = '\0';
  }
}

[[noreturn]] void fail(const std::string& what, int code = 1, const std::string& hint = "") {
  std::string line = std::string(kProg) + ": error: " + what;
  if (g_last_log[0] != '\0') {
    line += " (runtime: " + std::string(g_last_log) + ")";
  }
  line += hint;
  fflush(stdout);
  fprintf(stderr, "%s\n", line.c_str());
  exit(code);
}

// A per-input flag listing another number of entries than the method has inputs: one line, exit 2.
[[noreturn]] void wrong_count(const std::string& flag, size_t given, const char* unit, size_t inputs,
                              const std::string& fix) {
  fail(flag + " has " + std::to_string(given) + " " + unit + " but the method has " + std::to_string(inputs) +
           " inputs; " + fix,
       2);
}

std::string describe(Error e) {
  char buf[96];
  snprintf(buf, sizeof(buf), "%s (0x%x)", executorch::runtime::to_string(e), static_cast<unsigned>(e));
  return buf;
}

// A corrupt program can still trip an ET_CHECK (abort) or a bad read deep in the runtime: say what was
// happening in one line rather than leaving a core dump message. Only async-signal-safe calls.
void on_crash(int sig) {
  const char* name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGBUS ? "SIGBUS"
                   : sig == SIGFPE ? "SIGFPE" : sig == SIGILL ? "SIGILL" : "signal";
  const char* parts[] = {kProg, ": error: crashed with ", name, " while ", g_phase,
                         g_last_log[0] ? " (runtime: " : "", g_last_log, g_last_log[0] ? ")" : "", "\n"};
  for (const char* p : parts) {
    ssize_t ignored = write(STDERR_FILENO, p, strlen(p));
    (void)ignored;
  }
  _exit(128 + sig);
}

struct Options {
  std::string model;
  long warmup = 3;
  long runs = 30;
  long threads = -1;  // -1: the library's default (its count of performant cores)
  std::string value_range = "0,1000";
  std::string input_shapes;
  std::string input_files;
  std::string output_dir;
  uint64_t seed = 0;
};

void usage(FILE* out) {
  fprintf(out,
          "usage: %s --model PATH [--warmup N] [--num-runs N] [--threads N] [--input-value-range LO,HI[:LO,HI...]]\n"
          "       [--input-shapes D0xD1,...] [--input-files F0:F1:...] [--output-dir DIR] [--seed N] [--verbose]\n",
          kProg);
}

long parse_long(const std::string& flag, const std::string& text, long min) {
  char* end = nullptr;
  errno = 0;
  long v = strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min) {
    fail(flag + " needs an integer >= " + std::to_string(min) + ", got '" + text + "'", 2);
  }
  return v;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) {
      return out;
    }
    start = at + 1;
  }
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      exit(0);
    }
    if (arg == "--verbose" || arg == "-v") {
      g_verbose = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      fail("missing value for " + arg, 2);
    }
    if (arg == "--model" || arg == "--model_path") {
      o.model = value;
    } else if (arg == "--warmup") {
      o.warmup = parse_long(arg, value, 0);
    } else if (arg == "--num-runs" || arg == "--num_executions") {
      o.runs = parse_long(arg, value, 1);
    } else if (arg == "--threads" || arg == "--cpu_threads") {
      o.threads = parse_long(arg, value, -1);
      if (o.threads == 0) {
        o.threads = -1;
      }
    } else if (arg == "--input-value-range") {
      o.value_range = value;
    } else if (arg == "--input-shapes" || arg == "--input_shapes") {
      o.input_shapes = value;
    } else if (arg == "--input-files") {
      o.input_files = value;
    } else if (arg == "--output-dir") {
      o.output_dir = value;
    } else if (arg == "--seed") {
      o.seed = static_cast<uint64_t>(parse_long(arg, value, 0));
    } else {
      fail("unknown option " + arg + " (see --help)", 2);
    }
  }
  if (o.model.empty()) {
    fail("--model PATH is required", 2);
  }
  return o;
}

struct Range {
  int64_t low, high;  // inclusive
};

Range parse_range(const std::string& text) {
  auto parts = split(text, ',');
  char* end = nullptr;
  if (parts.size() == 2) {
    long long lo = strtoll(parts[0].c_str(), &end, 10);
    bool ok = !parts[0].empty() && *end == '\0';
    long long hi = strtoll(parts[1].c_str(), &end, 10);
    ok = ok && !parts[1].empty() && *end == '\0';
    if (ok && lo <= hi) {
      return {lo, hi};
    }
  }
  fail("--input-value-range needs LOW,HIGH with LOW <= HIGH (or one per input joined by ':'), got '" + text + "'",
       2);
}

// splitmix64: the same values on every platform and standard library (std::uniform_int_distribution is
// implementation-defined, and a phone build uses libc++ where this one uses libstdc++).
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t in(Range r) {
    uint64_t span = static_cast<uint64_t>(r.high - r.low) + 1;
    return r.low + static_cast<int64_t>(span == 0 ? next() : next() % span);
  }
};

template <typename T>
void fill_ints(std::vector<uint8_t>& bytes, size_t n, Range r, Rng& rng) {
  T* out = reinterpret_cast<T*>(bytes.data());
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<T>(rng.in(r));
  }
}

template <typename T>
void fill_value(std::vector<uint8_t>& bytes, size_t n, T value) {
  T* out = reinterpret_cast<T*>(bytes.data());
  for (size_t i = 0; i < n; ++i) {
    out[i] = value;
  }
}

// One tensor of `sizes` and `type`: integers from the range, floating point 0.5.
TensorPtr make_input(const std::vector<int32_t>& sizes, ScalarType type, Range r, Rng& rng, size_t index) {
  size_t n = 1;
  for (int32_t d : sizes) {
    n *= static_cast<size_t>(d);
  }
  std::vector<uint8_t> bytes(n * executorch::runtime::elementSize(type));
  switch (type) {
    case ScalarType::Long: fill_ints<int64_t>(bytes, n, r, rng); break;
    case ScalarType::Int: fill_ints<int32_t>(bytes, n, r, rng); break;
    case ScalarType::Short: fill_ints<int16_t>(bytes, n, r, rng); break;
    case ScalarType::Char: fill_ints<int8_t>(bytes, n, r, rng); break;
    case ScalarType::Byte: fill_ints<uint8_t>(bytes, n, r, rng); break;
    case ScalarType::Bool: {
      for (size_t i = 0; i < n; ++i) {
        bytes[i] = rng.in(r) != 0;
      }
      break;
    }
    case ScalarType::Float: fill_value<float>(bytes, n, 0.5f); break;
    case ScalarType::Double: fill_value<double>(bytes, n, 0.5); break;
    case ScalarType::Half: fill_value<executorch::aten::Half>(bytes, n, executorch::aten::Half(0.5f)); break;
    case ScalarType::BFloat16:
      fill_value<executorch::aten::BFloat16>(bytes, n, executorch::aten::BFloat16(0.5f));
      break;
    default:
      fail("input " + std::to_string(index) + " has unsupported dtype " +
           std::string(executorch::runtime::toString(type)));
  }
  return executorch::extension::make_tensor_ptr(
      std::vector<executorch::aten::SizesType>(sizes.begin(), sizes.end()), std::move(bytes), type);
}

// The tensor's elements from a raw file (numpy tofile(): declared dtype, native byte order), size checked.
TensorPtr read_input(const std::string& path, const std::vector<int32_t>& sizes, ScalarType type, size_t index) {
  size_t n = 1;
  for (int32_t d : sizes) {
    n *= static_cast<size_t>(d);
  }
  std::vector<uint8_t> bytes(n * executorch::runtime::elementSize(type));
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    fail("input file " + std::to_string(index) + " not found: " + path, 2);
  }
  const std::streamoff size = in.tellg();
  if (size != static_cast<std::streamoff>(bytes.size())) {
    fail("input file " + path + " has " + std::to_string(size) + " bytes, input " + std::to_string(index) +
             " (" + executorch::runtime::toString(type) + ", " + std::to_string(n) + " elements) needs " +
             std::to_string(bytes.size()),
         2);
  }
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return executorch::extension::make_tensor_ptr(
      std::vector<executorch::aten::SizesType>(sizes.begin(), sizes.end()), std::move(bytes), type);
}

// numpy's dtype string for the scalar types a model returns; nullptr for others.
const char* npy_descr(ScalarType type) {
  switch (type) {
    case ScalarType::Float: return "<f4";
    case ScalarType::Double: return "<f8";
    case ScalarType::Half: return "<f2";
    case ScalarType::Long: return "<i8";
    case ScalarType::Int: return "<i4";
    case ScalarType::Short: return "<i2";
    case ScalarType::Char: return "|i1";
    case ScalarType::Byte: return "|u1";
    case ScalarType::Bool: return "|b1";
    default: return nullptr;
  }
}

// One output tensor as an .npy file (format 1.0: magic, version, header length, a dict padded to 64 bytes).
void write_npy(const std::string& path, const executorch::aten::Tensor& t, size_t index) {
  const char* descr = npy_descr(t.scalar_type());
  if (descr == nullptr) {
    fail("output " + std::to_string(index) + " has dtype " + executorch::runtime::toString(t.scalar_type()) +
         ", which --output-dir cannot write");
  }
  std::string shape = "(";
  for (ssize_t i = 0; i < t.dim(); ++i) {
    shape += std::to_string(t.size(i)) + (t.dim() == 1 ? "," : i + 1 < t.dim() ? ", " : "");
  }
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::ofstream out(path, std::ios::binary);
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(length & 0xff));
  out.put(static_cast<char>(length >> 8));
  out << header;
  out.write(static_cast<const char*>(t.const_data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!out) {
    fail("cannot write " + path);
  }
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // lines reach adb/pipes as they are printed, even before a crash
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) {
    signal(sig, on_crash);
  }
  Options opt = parse_args(argc, argv);

  // Route the runtime's log through capture_log: silent unless --verbose, and the first error of the
  // failing phase is appended to ours so a failure stays one line.
  executorch::runtime::register_pal(executorch::runtime::PalImpl::create(capture_log, __FILE__));
  executorch::runtime::runtime_init();

  struct stat st;
  if (stat(opt.model.c_str(), &st) != 0) {
    fail("model file not found: " + opt.model);
  }
  if (!S_ISREG(st.st_mode)) {
    fail("model path is not a file: " + opt.model);
  }

#if defined(ET_USE_THREADPOOL)
  std::optional<executorch::extension::threadpool::NoThreadPoolGuard> single_thread;
  if (opt.threads > 0) {
    executorch::extension::threadpool::get_threadpool()->_unsafe_reset_threadpool(
        static_cast<uint32_t>(opt.threads));
  }
  if (opt.threads == 1) {
    single_thread.emplace();  // as executor_runner does: run on the calling thread, no pool hand-off
  }
  const size_t pool_threads = executorch::extension::threadpool::get_threadpool()->get_thread_count();
  printf("Threads: %zu%s\n", opt.threads == 1 ? size_t{1} : pool_threads,
         opt.threads > 0 ? "" : " (library default)");
#else
  if (opt.threads > 0) {
    fprintf(stderr, "%s: warning: built without ET_USE_THREADPOOL, --threads %ld ignored\n", kProg, opt.threads);
  }
#endif

  set_phase("loading the program");
  const auto load_start = std::chrono::steady_clock::now();
  Module module(opt.model, Module::LoadMode::File);
  // InternalConsistency runs the flatbuffer verifier, so a corrupt file is an error rather than a crash.
  Error err = module.load(executorch::runtime::Program::Verification::InternalConsistency);
  if (err != Error::Ok) {
    fail("cannot load program " + opt.model + ": " + describe(err) + ", not a valid .pte?");
  }
  set_phase("loading method forward");
  err = module.load_method(kMethod);
  if (err != Error::Ok) {
    fail(std::string("cannot load method ") + kMethod + " of " + opt.model + ": " + describe(err));
  }
  const double load_ms = ms_since(load_start);

  auto meta = module.method_meta(kMethod);
  if (!meta.ok()) {
    fail(std::string("no metadata for method ") + kMethod + ": " + describe(meta.error()));
  }
  const size_t num_inputs = meta->num_inputs();

  std::vector<std::string> range_specs = split(opt.value_range, ':');
  if (range_specs.size() != 1 && range_specs.size() != num_inputs) {
    wrong_count("--input-value-range", range_specs.size(), "ranges", num_inputs,
                "give one LOW,HIGH for all or one per input");
  }
  std::vector<std::string> file_specs;
  if (!opt.input_files.empty()) {
    file_specs = split(opt.input_files, ':');
    if (file_specs.size() != num_inputs) {
      wrong_count("--input-files", file_specs.size(), "files", num_inputs, "give one per input, joined by ':'");
    }
  }
  std::vector<std::string> shape_specs;
  if (!opt.input_shapes.empty()) {
    shape_specs = split(opt.input_shapes, ',');
    if (shape_specs.size() != num_inputs) {
      wrong_count("--input-shapes", shape_specs.size(), "entries", num_inputs,
                  "leave an entry empty to keep a declared shape");
    }
  }

  set_phase("preparing inputs");
  Rng rng{opt.seed};
  std::vector<TensorPtr> tensors;  // own the input data for the whole run
  std::vector<EValue> inputs;
  size_t int_inputs = 0;  // for the hint when one range fed several integer inputs
  for (size_t i = 0; i < num_inputs; ++i) {
    Range range = parse_range(range_specs.size() == 1 ? range_specs[0] : range_specs[i]);
    auto tag = meta->input_tag(i);
    if (!tag.ok()) {
      fail("cannot read the type of input " + std::to_string(i) + ": " + describe(tag.error()));
    }
    if (*tag == Tag::Tensor) {
      auto info = meta->input_tensor_meta(i);
      if (!info.ok()) {
        fail("cannot read the shape of input " + std::to_string(i) + ": " + describe(info.error()));
      }
      std::vector<int32_t> sizes(info->sizes().begin(), info->sizes().end());
      if (!shape_specs.empty() && !shape_specs[i].empty()) {
        sizes.clear();
        for (const auto& dim : split(shape_specs[i], 'x')) {
          sizes.push_back(static_cast<int32_t>(parse_long("--input-shapes", dim, 0)));
        }
      }
      tensors.push_back(file_specs.empty() ? make_input(sizes, info->scalar_type(), range, rng, i)
                                           : read_input(file_specs[i], sizes, info->scalar_type(), i));
      int_inputs += executorch::runtime::isIntegralType(info->scalar_type(), /*includeBool=*/true);
      inputs.emplace_back(tensors.back());
    } else if (*tag == Tag::Int) {
      inputs.emplace_back(static_cast<int64_t>(range.low));
    } else if (*tag == Tag::Double) {
      inputs.emplace_back(0.5);
    } else if (*tag == Tag::Bool) {
      inputs.emplace_back(range.low != 0);
    } else {
      fail("input " + std::to_string(i) + " is neither a tensor nor a scalar; not supported");
    }
  }

  printf("Model loaded in %f ms.\n", load_ms);
  fflush(stdout);

  // Inputs are set before every run, outside the timed region: memory planning may reuse an input's
  // buffer for intermediates, so the previous run can have overwritten it (executor_runner does the same).
  std::vector<EValue> last_outputs;
  auto run_once = [&](const char* phase) -> double {
    set_phase(phase);
    Error set = module.set_inputs(kMethod, inputs);
    if (set != Error::Ok) {
      fail("cannot set the inputs of " + std::string(kMethod) + ": " + describe(set));
    }
    const auto start = std::chrono::steady_clock::now();
    auto result = module.execute(kMethod);
    const double ms = ms_since(start);
    if (!result.ok()) {
      std::string hint;
      if (range_specs.size() == 1 && int_inputs > 1) {
        hint = "; one range fed every integer input: if one is a mask or token_type_ids, give one range per "
               "input, e.g. --input-value-range 0,1000:1,1:0,0";
      }
      fail(std::string("execution of ") + kMethod + " failed: " + describe(result.error()), 1, hint);
    }
    last_outputs = std::move(*result);
    return ms;
  };

  for (long i = 0; i < opt.warmup; ++i) {
    double ms = run_once("running warm-up");
    printf("Warm-up %ld of %ld: %f ms\n", i + 1, opt.warmup, ms);
  }
  double total_ms = 0;
  for (long i = 0; i < opt.runs; ++i) {
    double ms = run_once("running");
    total_ms += ms;
    printf("Iteration %ld of %ld: %f ms\n", i + 1, opt.runs, ms);
  }
  printf("Model executed successfully %ld time(s) in %f ms.\n", opt.runs, total_ms);
  if (!opt.output_dir.empty()) {
    set_phase("writing the outputs");
    for (size_t i = 0; i < last_outputs.size(); ++i) {
      if (!last_outputs[i].isTensor()) {
        fail("output " + std::to_string(i) + " is not a tensor; --output-dir writes tensors only");
      }
      const std::string path = opt.output_dir + "/output_" + std::to_string(i) + ".npy";
      write_npy(path, last_outputs[i].toTensor(), i);
      printf("Output %zu: %s\n", i, path.c_str());
    }
  }
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {  // Linux and Android: ru_maxrss in KiB
    printf("Peak resident set size: %ld kB\n", usage.ru_maxrss);
  }
  fflush(stdout);
  return 0;
}
