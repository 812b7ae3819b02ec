// txrelay: a transactional outbox engine.
//
//   txrelay serve --config FILE [--listen HOST:PORT] [--database-url URL] [--data-dir DIR]
//   txrelay check-config --config FILE
//   txrelay migrate [--config FILE] [--database-url URL] [--data-dir DIR]
//   txrelay events|sinks|dead ...   operator commands over the HTTP API (txrelay help)
#include "cli/command_line.hpp"

int main(int argc, char** argv) { return txrelay::cli::run(argc, argv); }
