#include "expr/json_template.hpp"

#include <optional>
#include <utility>
#include <vector>

namespace txrelay {

struct json_template::node {
  enum class kind { constant, text, array, object };
  kind what = kind::constant;
  json_value constant;                                  // null, true, 12, ... as written
  std::optional<text_template> text;                    // every string
  std::vector<node> items;                              // array
  std::vector<std::pair<std::string, node>> members;    // object
};

namespace {

using node = json_template::node;

std::string member_where(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

std::string item_where(const std::string& where, std::size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

result<node, template_error> compile(const json_value& shape, const std::string& where) {
  node n;
  switch (shape.type()) {
  case json_value::kind::string: {
    auto text = text_template::parse(shape.as_string());
    if (!text)
      return unexpected{template_error{where, text.error()}};
    n.what = node::kind::text;
    n.text = std::move(*text);
    return n;
  }
  case json_value::kind::array:
    n.what = node::kind::array;
    for (std::size_t i = 0; i < shape.as_array().size(); ++i) {
      auto item = compile(shape.as_array()[i], item_where(where, i));
      if (!item)
        return unexpected{item.error()};
      n.items.push_back(std::move(*item));
    }
    return n;
  case json_value::kind::object:
    n.what = node::kind::object;
    for (const auto& [key, value] : shape.as_object()) {
      auto member = compile(value, member_where(where, key));
      if (!member)
        return unexpected{member.error()};
      n.members.emplace_back(key, std::move(*member));
    }
    return n;
  default:
    n.constant = shape;
    return n;
  }
}

json_value render_node(const node& n, const json_value& event) {
  switch (n.what) {
  case node::kind::constant:
    return n.constant;
  case node::kind::text: {
    // "{{ path }}" alone keeps the value's JSON type; missing is null.
    if (const auto& path = n.text->sole_path()) {
      const json_value* v = event.at(*path);
      return v ? *v : json_value{};
    }
    return json_value{n.text->render(event)};
  }
  case node::kind::array: {
    json_value::array_t items;
    items.reserve(n.items.size());
    for (const auto& item : n.items)
      items.push_back(render_node(item, event));
    return json_value{std::move(items)};
  }
  case node::kind::object: {
    json_value::object_t members;
    members.reserve(n.members.size());
    for (const auto& [key, value] : n.members)
      members.emplace_back(key, render_node(value, event));
    return json_value{std::move(members)};
  }
  }
  return json_value{};
}

} // namespace

result<json_template, template_error> json_template::parse(const json_value& shape) {
  auto root = compile(shape, "");
  if (!root)
    return unexpected{root.error()};
  json_template t;
  t.root_ = std::make_shared<const node>(std::move(*root));
  return t;
}

json_value json_template::render(const json_value& event) const {
  if (!root_)
    return json_value{};
  return render_node(*root_, event);
}

} // namespace txrelay
