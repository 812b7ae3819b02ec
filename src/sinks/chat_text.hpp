#pragma once
// How an event reads in a chat channel (Discord, Slack) until templates land:
// a heading line naming the topic (and the key, when there is one), then the
// payload pretty-printed in a ```json fence.
#include "core/delivery.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace txrelay {

/// Shown at the end of a text that was cut to fit a provider's limit.
inline constexpr std::string_view chat_truncation_marker = "… (truncated)";

/// The default chat text for `job`. With `max_code_points`, a longer text is
/// cut inside the payload (the fence is still closed, so the rest of the
/// message is not swallowed by an open code block) and ends with
/// chat_truncation_marker; the whole stays within the limit. Never refused.
std::string default_chat_text(const delivery_job& job, std::optional<std::size_t> max_code_points = std::nullopt);

/// `json` (valid JSON) re-indented with two spaces per level. Strings are
/// copied as they are; "```" inside them would close the fence early, so when
/// it occurs every backtick is written as \u0060 (the same JSON value).
std::string pretty_json_for_fence(std::string_view json);

} // namespace txrelay
