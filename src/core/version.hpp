#pragma once
// The version of this txrelay: `txrelay --version`, txrelay_build_info on
// /metrics. Kept equal to project(txrelay VERSION ...) in CMakeLists.txt.
namespace txrelay {

inline constexpr const char* version = "0.1.0";

} // namespace txrelay
