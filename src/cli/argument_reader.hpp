#pragma once
// Reading a command line one argument at a time, as both of the binary's
// parsers (the server's commands and the operator's) do: a flag's value is
// inline (--name=value) or the argument after it.
#include "core/result.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace txrelay::cli {

class argument_reader {
public:
  struct flag {
    std::string name;                        // "--url"; a positional argument as it is
    std::optional<std::string> inline_value; // "x" of "--url=x"
  };

  /// Reads args[first...].
  explicit argument_reader(const std::vector<std::string>& args, std::size_t first = 1) : args_(args), at_(first) {}

  bool done() const { return at_ >= args_.size(); }

  /// The next argument, a long flag split at its first '='.
  flag next() {
    flag f{args_[at_++], std::nullopt};
    if (auto eq = f.name.find('='); f.name.rfind("--", 0) == 0 && eq != std::string::npos) {
      f.inline_value = f.name.substr(eq + 1);
      f.name.resize(eq);
    }
    return f;
  }

  /// The flag's value: its inline one, else the next argument (taken).
  result<std::string, std::string> value_of(const flag& f) {
    if (f.inline_value)
      return *f.inline_value;
    if (done())
      return unexpected{f.name + " needs a value"};
    return args_[at_++];
  }

private:
  const std::vector<std::string>& args_;
  std::size_t at_;
};

} // namespace txrelay::cli
