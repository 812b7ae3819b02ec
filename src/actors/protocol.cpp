#include "actors/protocol.hpp"

namespace txrelay {

namespace {
constexpr caf::atom_value persistence_category = caf::atom("txrdb");
}

caf::error make_persistence_error(persistence_errc code, std::string message) {
  return caf::error{static_cast<std::uint8_t>(code), persistence_category, caf::make_message(std::move(message))};
}

api_error commit_unknown_error() {
  return {503, "commit_unknown",
          "the request may or may not have been stored (the database's answer to its commit was lost); retry with "
          "the same Idempotency-Key, which returns the stored events if they were"};
}

api_error to_api_error(const caf::error& err) {
  if (err.category() == persistence_category) {
    std::string detail;
    if (err.context().match_elements<std::string>())
      detail = err.context().get_as<std::string>(0);
    if (err.code() == static_cast<std::uint8_t>(persistence_errc::unavailable))
      return {503, "database_unavailable", "the database is unavailable: " + detail}; // detail: never libpq's own words
    if (err.code() == static_cast<std::uint8_t>(persistence_errc::projection_failed))
      return {422, "projection_failed", detail};
    if (err.code() == static_cast<std::uint8_t>(persistence_errc::idempotency_reused))
      return {422, "idempotency_key_reused", detail};
    if (err.code() == static_cast<std::uint8_t>(persistence_errc::commit_unknown))
      return commit_unknown_error();
    return {500, "storage_error", detail};
  }
  if (err == caf::sec::request_timeout)
    return {503, "timeout", "the engine did not answer in time"};
  if (err == caf::sec::request_receiver_down)
    return {503, "unavailable", "the engine is restarting"};
  return {500, "internal_error", "internal error"};
}

} // namespace txrelay
