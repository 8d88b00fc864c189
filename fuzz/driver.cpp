// Standalone fuzz driver (used when DTT_FUZZ is off): replays every seed file given on the
// command line (files or directories), then feeds `-runs=N` random mutations of them to
// LLVMFuzzerTestOneInput. Deterministic for a given -seed. Exit 0 unless the target aborts.
//
//   fuzz_<name> [-runs=N] [-seed=S] [-max_len=L] [file|dir]...
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

using input = std::vector<uint8_t>;

bool read_file(const std::filesystem::path& p, input& out) {
  std::ifstream f(p, std::ios::binary);
  if (!f)
    return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

// One random edit of `x`, in the spirit of libFuzzer's mutators (bounded to max_len).
void mutate(input& x, const std::vector<input>& corpus, std::mt19937_64& rng, size_t max_len) {
  auto below = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  switch (below(8)) {
    case 0: // flip a bit
      if (!x.empty())
        x[below(x.size())] ^= static_cast<uint8_t>(1u << below(8));
      break;
    case 1: // set a byte
      if (!x.empty())
        x[below(x.size())] = static_cast<uint8_t>(rng());
      break;
    case 2: // insert bytes
      if (x.size() < max_len) {
        size_t n = 1 + below(std::min<size_t>(8, max_len - x.size()));
        x.insert(x.begin() + static_cast<std::ptrdiff_t>(below(x.size() + 1)), n,
                 static_cast<uint8_t>(rng()));
      }
      break;
    case 3: // erase a range
      if (!x.empty()) {
        size_t at = below(x.size());
        size_t n = 1 + below(std::min<size_t>(16, x.size() - at));
        x.erase(x.begin() + static_cast<std::ptrdiff_t>(at),
                x.begin() + static_cast<std::ptrdiff_t>(at + n));
      }
      break;
    case 4: { // an interesting big-endian 16/32-bit value (lengths, counts)
      static const uint32_t values[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0x7fff,
                                        0x8000, 0xffff, 0x1000, 0x1001, 0x80000000u,
                                        0x80000001u, 0x80000002u, 0x7fffffffu, 0xffffffffu};
      uint32_t v = values[below(sizeof values / sizeof values[0])];
      size_t width = below(2) ? 4 : 2;
      if (x.size() >= width) {
        size_t at = below(x.size() - width + 1);
        for (size_t i = 0; i < width; ++i)
          x[at + i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
      }
      break;
    }
    case 5: { // copy a range of the input elsewhere in it
      if (x.size() >= 2 && x.size() < max_len) {
        size_t from = below(x.size());
        size_t n = 1 + below(std::min<size_t>({64, x.size() - from, max_len - x.size()}));
        input part(x.begin() + static_cast<std::ptrdiff_t>(from),
                   x.begin() + static_cast<std::ptrdiff_t>(from + n));
        x.insert(x.begin() + static_cast<std::ptrdiff_t>(below(x.size() + 1)), part.begin(),
                 part.end());
      }
      break;
    }
    case 6: { // splice: our head, another seed's tail
      if (!corpus.empty()) {
        const auto& other = corpus[below(corpus.size())];
        size_t keep = below(x.size() + 1);
        size_t from = below(other.size() + 1);
        x.resize(keep);
        x.insert(x.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
      }
      break;
    }
    default: // truncate
      if (!x.empty())
        x.resize(below(x.size()));
      break;
  }
  if (x.size() > max_len)
    x.resize(max_len);
}

} // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  uint64_t runs = 10000, seed = 1;
  size_t max_len = 8192;
  std::vector<input> corpus;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "-runs=", 6) == 0) {
      runs = std::strtoull(a + 6, nullptr, 10);
    } else if (std::strncmp(a, "-seed=", 6) == 0) {
      seed = std::strtoull(a + 6, nullptr, 10);
    } else if (std::strncmp(a, "-max_len=", 9) == 0) {
      max_len = std::strtoull(a + 9, nullptr, 10);
    } else if (a[0] == '-') {
      std::fprintf(stderr, "unknown option %s\n", a);
      return 2;
    } else {
      std::error_code ec;
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(a, ec)) {
        for (auto& e : std::filesystem::directory_iterator(a, ec))
          if (e.is_regular_file())
            files.push_back(e.path());
        std::sort(files.begin(), files.end()); // deterministic order
      } else {
        files.emplace_back(a);
      }
      for (auto& f : files) {
        input x;
        if (!read_file(f, x)) {
          std::fprintf(stderr, "cannot read %s\n", f.c_str());
          return 2;
        }
        corpus.push_back(std::move(x));
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& x : corpus)
    LLVMFuzzerTestOneInput(x.data(), x.size());
  LLVMFuzzerTestOneInput(nullptr, 0);
  std::mt19937_64 rng(seed);
  input x;
  for (uint64_t r = 0; r < runs; ++r) {
    if (corpus.empty() || rng() % 16 == 0) {
      x.resize(rng() % std::min<size_t>(max_len + 1, 256));
      for (auto& b : x)
        b = static_cast<uint8_t>(rng());
    } else {
      x = corpus[rng() % corpus.size()];
    }
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k)
      mutate(x, corpus, rng, max_len);
    LLVMFuzzerTestOneInput(x.data(), x.size());
  }
  auto secs =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%zu seeds + %llu mutations in %.2f s (%.0f exec/s)\n", corpus.size(),
              static_cast<unsigned long long>(runs), secs,
              static_cast<double>(corpus.size() + runs) / (secs > 0 ? secs : 1e-9));
  return 0;
}
