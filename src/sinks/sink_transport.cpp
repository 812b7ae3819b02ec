#include "sinks/sink_transport.hpp"

#include "config/config.hpp"
#include "core/json.hpp"
#include "expr/event_document.hpp"
#include "sinks/discord_sink.hpp"
#include "sinks/notion_sink.hpp"
#include "sinks/slack_sink.hpp"
#include "sinks/sql_sink.hpp"
#include "sinks/webhook_sink.hpp"

namespace txrelay {

namespace {


http_client_options client_options(const sink_config& config) {
  http_client_options out;
  out.ca_file = config.tls.ca_file;
  out.verify_peer = config.tls.verify;
  out.connect_timeout = config.connect_timeout;
  // One idle connection per attempt that may be in flight is all reuse needs.
  out.max_idle_connections = static_cast<std::size_t>(std::max(1, config.max_in_flight));
  return out;
}

body_renderer discord_renderer(const sink_templates& t) {
  if (!t.content && !t.username && !t.avatar_url && !t.embeds)
    return {};
  return [t](const delivery_job& job) {
    auto doc = delivery_document(job);
    discord_message m;
    // Embeds may carry the whole message; without them, content always does.
    if (t.content)
      m.content = t.content->render(doc);
    else if (!t.embeds)
      m.content = discord_content(job);
    if (t.username)
      m.username = t.username->render(doc);
    if (t.avatar_url)
      m.avatar_url = t.avatar_url->render(doc);
    if (t.embeds)
      m.embeds_json = t.embeds->render(doc).to_json();
    return discord_body_for(m);
  };
}

body_renderer slack_renderer(const sink_templates& t) {
  if (!t.text && !t.blocks)
    return {};
  return [text = t.text, blocks = t.blocks](const delivery_job& job) {
    auto doc = delivery_document(job);
    std::string body = "{\"text\":";
    // Slack shows `text` in notifications even when blocks carry the message.
    append_json_string(body, text ? text->render(doc) : slack_text(job));
    if (blocks) {
      body += ",\"blocks\":";
      blocks->render(doc).append_json(body);
    }
    body += '}';
    return body;
  };
}

body_renderer webhook_renderer(const sink_templates& t) {
  if (!t.body)
    return {};
  return [body = *t.body](const delivery_job& job) { return body.render(delivery_document(job)).to_json(); };
}

std::shared_ptr<sink_transport> make_notion_transport(const sink_config& config, const transport_environment& env,
                                                      http_client_options client) {
  const auto& notion = *config.notion;
  notion_sink_options options;
  options.api_base = *config.endpoint;
  options.token = notion.token;
  options.notion_version = notion.version;
  options.parent = {notion.data_source ? notion_parent_kind::data_source_id : notion_parent_kind::database_id,
                    notion.parent_id};
  options.request_timeout = config.request_timeout;
  options.render = [properties = notion.properties](const delivery_job& job) {
    auto doc = delivery_document(job);
    std::vector<notion_property> out;
    for (const auto& p : properties) {
      if (p.when && !p.when->matches(doc))
        continue;
      // The type names were checked when the config loaded.
      auto type = parse_notion_property_type(p.type).value_or(notion_property_type::rich_text);
      out.push_back(notion_property{p.name, type, p.value.render(doc)});
    }
    return out;
  };
  return std::make_shared<notion_sink>(env.io, std::move(options), env.clock, std::move(client));
}

} // namespace

std::shared_ptr<sink_transport> make_sink_transport(const sink_config& config, const transport_environment& env) {
  switch (config.kind) {
    case sink_kind::log:
      return std::make_shared<log_sink>(config.name);
    case sink_kind::webhook: {
      std::vector<secret_key> keys;
      for (const auto& s : config.secrets)
        if (auto k = decode_webhook_secret(s))
          keys.push_back(std::move(*k)); // validated at config load
      return std::make_shared<webhook_sink>(env.io, *config.endpoint, std::move(keys), config.request_timeout,
                                            env.clock, client_options(config), webhook_renderer(config.templates));
    }
    case sink_kind::discord:
      return std::make_shared<discord_sink>(env.io, *config.endpoint, config.request_timeout, env.clock,
                                            client_options(config), discord_renderer(config.templates));
    case sink_kind::slack:
      return std::make_shared<slack_sink>(env.io, *config.endpoint, config.request_timeout, env.clock,
                                          client_options(config), slack_renderer(config.templates));
    case sink_kind::notion:
      return make_notion_transport(config, env, client_options(config));
    case sink_kind::sql:
      // An in_transaction sink's deliveries are done when their event
      // commits; its sender idles (1 connection, opened on first use only).
      return std::make_shared<sql_sink>(
        env.database_url, config.name, config.sql->statement,
        config.sql->phase == sql_phase::in_transaction ? 1 : std::min(config.max_in_flight, 4), config.request_timeout);
  }
  return nullptr;
}

} // namespace txrelay
