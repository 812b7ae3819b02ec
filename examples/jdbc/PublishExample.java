// Publishing an event from the producer's own transaction with plain JDBC.
//
//   javac PublishExample.java
//   java -cp /usr/share/java/postgresql.jar:. PublishExample 'jdbc:postgresql://127.0.0.1:54329/db?user=postgres'
//
// The database must have txrelay's schema (`txrelay migrate`, or a running
// `txrelay serve`), a route for topic user.signed_up in txrelay's config, and
// the connecting role needs EXECUTE on txrelay.publish (docs/publishing.md).
//
// Prints two lines on stdout:
//   committed <event id>     the event exists: txrelay routes and delivers it
//   rolled back <event id>   the id was returned, but no such event exists
// Exit code 0; 1 (with the SQLState on stderr) on any SQLException; 2 on bad usage.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.UUID;

public class PublishExample {

    private static final String TOPIC = "user.signed_up";

    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: java -cp postgresql.jar:. PublishExample <jdbc-url>");
            System.exit(2);
        }
        try (Connection conn = DriverManager.getConnection(args[0])) {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS signups (id bigserial PRIMARY KEY, email text NOT NULL)");
            }
            // From here on, every statement belongs to a transaction that
            // ends with an explicit commit() or rollback().
            conn.setAutoCommit(false);

            UUID committed = signUp(conn, "kim@example.com", true);
            System.out.println("committed " + committed);

            UUID rolledBack = signUp(conn, "lee@example.com", false);
            System.out.println("rolled back " + rolledBack);
        } catch (SQLException e) {
            System.err.println("PublishExample: " + e.getMessage() + " (SQLState " + e.getSQLState() + ")");
            System.exit(1);
        }
    }

    /**
     * Stores a signup and publishes user.signed_up in one transaction (the
     * connection is not in autocommit mode), then
     * commits it or (to show what happens) rolls it back. Returns the event id
     * that txrelay.publish returned.
     */
    static UUID signUp(Connection conn, String email, boolean commit) throws SQLException {
        try {
            long signupId;
            try (PreparedStatement insert =
                     conn.prepareStatement("INSERT INTO signups (email) VALUES (?) RETURNING id")) {
                insert.setString(1, email);
                try (ResultSet rs = insert.executeQuery()) {
                    rs.next();
                    signupId = rs.getLong(1);
                }
            }

            // The publish call runs on the same connection, before the COMMIT,
            // so it is part of the same transaction as the INSERT above: the
            // signup and its event are committed together or not at all. There
            // is no moment at which one exists without the other, unlike a
            // POST to txrelay after the COMMIT (lost if the process dies in
            // between) or before it (a phantom event if the COMMIT then fails).
            UUID eventId;
            try (PreparedStatement publish =
                     conn.prepareStatement("SELECT txrelay.publish(?, ?::jsonb, ?, ?)")) {
                publish.setString(1, TOPIC);
                publish.setString(2, "{\"email\": " + jsonString(email) + ", \"signup_id\": " + signupId + "}");
                publish.setString(3, "signup-" + signupId);  // key: per-key ordering in txrelay
                publish.setNull(4, Types.VARCHAR);           // idempotency key: none
                try (ResultSet rs = publish.executeQuery()) {
                    rs.next();
                    eventId = rs.getObject(1, UUID.class);
                }
            }

            if (commit) {
                conn.commit();   // from here on, txrelay will route and deliver the event
            } else {
                conn.rollback(); // the signup and the event are both gone
            }
            return eventId;
        } catch (SQLException e) {
            try {
                conn.rollback();
            } catch (SQLException rollbackFailure) {
                e.addSuppressed(rollbackFailure);
            }
            throw e;
        }
    }

    /** A JSON string literal: quotes, backslashes and control characters escaped. */
    static String jsonString(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
