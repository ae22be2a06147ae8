package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// SQL is a Store over database/sql, for SQLite or PostgreSQL.
type SQL struct {
	db      *sql.DB
	dialect string // "sqlite" or "postgres"
}

// Open returns the store a --db value names: a postgres:// or
// postgresql:// URL for PostgreSQL, anything else as the path of a SQLite
// file, created with its directory on first use.
func Open(ctx context.Context, dsn string) (*SQL, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return OpenPostgres(ctx, dsn)
	}
	return OpenSQLite(ctx, dsn)
}

// OpenSQLite opens (creating if needed) the SQLite database at path.
func OpenSQLite(ctx context.Context, path string) (*SQL, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	// One connection: SQLite serialises writers anyway, and this way no
	// request ever sees SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	return initSQL(ctx, db, "sqlite")
}

// OpenPostgres connects to PostgreSQL at url.
func OpenPostgres(ctx context.Context, url string) (*SQL, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return initSQL(ctx, db, "postgres")
}

func initSQL(ctx context.Context, db *sql.DB, dialect string) (*SQL, error) {
	s := &SQL{db: db, dialect: dialect}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	serial := "INTEGER PRIMARY KEY"
	if dialect == "postgres" {
		serial = "BIGSERIAL PRIMARY KEY"
	}
	for _, ddl := range []string{
		`CREATE TABLE IF NOT EXISTS demo_visitors (
			id TEXT PRIMARY KEY,
			visits BIGINT NOT NULL DEFAULT 0,
			first_seen BIGINT NOT NULL,
			last_seen BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS demo_notes (
			id ` + serial + `,
			visitor TEXT NOT NULL REFERENCES demo_visitors(id),
			body TEXT NOT NULL,
			created BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS demo_notes_visitor ON demo_notes(visitor, id)`,
	} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: creating the schema in %s: %w", dialect, err)
		}
	}
	return s, nil
}

// q rewrites ? placeholders for PostgreSQL ($1, $2...).
func (s *SQL) q(query string) string {
	if s.dialect != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// NewVisitor implements Store.
func (s *SQL) NewVisitor(ctx context.Context) (string, error) {
	id := NewID()
	now := time.Now().UnixNano()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO demo_visitors (id, visits, first_seen, last_seen) VALUES (?, 0, ?, ?)`), id, now, now)
	return id, err
}

// Visit implements Store: one UPDATE ... RETURNING counts the visit.
func (s *SQL) Visit(ctx context.Context, id string) (Visitor, error) {
	if !ValidID(id) {
		return Visitor{}, ErrUnknownVisitor
	}
	v := Visitor{ID: id}
	var first, last int64
	err := s.db.QueryRowContext(ctx, s.q(`UPDATE demo_visitors SET visits = visits + 1, last_seen = ? WHERE id = ? RETURNING visits, first_seen, last_seen`),
		time.Now().UnixNano(), id).Scan(&v.Visits, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return Visitor{}, ErrUnknownVisitor
	}
	if err != nil {
		return Visitor{}, err
	}
	v.FirstSeen, v.LastSeen = time.Unix(0, first), time.Unix(0, last)
	return v, s.notes(ctx, &v)
}

// Peek implements Store.
func (s *SQL) Peek(ctx context.Context, id string) (Visitor, error) {
	if !ValidID(id) {
		return Visitor{}, ErrUnknownVisitor
	}
	v := Visitor{ID: id}
	var first, last int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT visits, first_seen, last_seen FROM demo_visitors WHERE id = ?`), id).Scan(&v.Visits, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return Visitor{}, ErrUnknownVisitor
	}
	if err != nil {
		return Visitor{}, err
	}
	v.FirstSeen, v.LastSeen = time.Unix(0, first), time.Unix(0, last)
	return v, s.notes(ctx, &v)
}

func (s *SQL) notes(ctx context.Context, v *Visitor) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT body, created FROM demo_notes WHERE visitor = ? ORDER BY id DESC LIMIT `+strconv.Itoa(MaxNotes)), v.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var n Note
		var created int64
		if err := rows.Scan(&n.Text, &created); err != nil {
			return err
		}
		n.Created = time.Unix(0, created)
		v.Notes = append(v.Notes, n)
	}
	return rows.Err()
}

// AddNote implements Store; the INSERT ... SELECT adds nothing for an
// unknown visitor.
func (s *SQL) AddNote(ctx context.Context, id, text string) error {
	if !ValidID(id) {
		return ErrUnknownVisitor
	}
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO demo_notes (visitor, body, created) SELECT id, ?, ? FROM demo_visitors WHERE id = ?`),
		truncate(text, MaxNote), time.Now().UnixNano(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrUnknownVisitor
	}
	return nil
}

// Close closes the database.
func (s *SQL) Close() error { return s.db.Close() }
