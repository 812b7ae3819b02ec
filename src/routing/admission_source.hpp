#pragma once
// The routes and schemas in force, replaced whole when the config is
// reloaded (see core/versioned.hpp).
#include "core/versioned.hpp"
#include "routing/event_admission.hpp"

namespace txrelay {

using admission_source = versioned<event_admission>;

} // namespace txrelay
