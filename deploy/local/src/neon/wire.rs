//! A minimal PostgreSQL frontend: startup + auth, the extended protocol with text-format
//! parameters of unspecified type and text-format results (what Neon's `query_raw_txt` does),
//! simple queries for BEGIN/COMMIT, and cancel requests.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd as _;
use std::time::Duration;

use bytes::{BufMut as _, BytesMut};
use fallible_iterator::FallibleIterator as _;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::{DataRowBody, ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Vec<u8>,
    pub database: String,
    /// Extra startup parameters (`options`, `application_name`, `statement_timeout`).
    pub startup: Vec<(String, String)>,
    pub connect_timeout: Duration,
}

/// An ErrorResponse, field by field (protocol docs: "Error and Notice Message Fields").
#[derive(Clone, Debug, Default)]
pub struct DbError {
    pub severity: Option<String>,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub position: Option<String>,
    pub internal_position: Option<String>,
    pub internal_query: Option<String>,
    pub where_: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub datatype: Option<String>,
    pub constraint: Option<String>,
    pub file: Option<String>,
    pub line: Option<String>,
    pub routine: Option<String>,
}

impl DbError {
    fn parse(body: &ErrorResponseBody) -> DbError {
        let mut error = DbError::default();
        let mut fields = body.fields();
        while let Ok(Some(field)) = fields.next() {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'S' => error.severity = Some(value),
                b'C' => error.code = value,
                b'M' => error.message = value,
                b'D' => error.detail = Some(value),
                b'H' => error.hint = Some(value),
                b'P' => error.position = Some(value),
                b'p' => error.internal_position = Some(value),
                b'q' => error.internal_query = Some(value),
                b'W' => error.where_ = Some(value),
                b's' => error.schema = Some(value),
                b't' => error.table = Some(value),
                b'c' => error.column = Some(value),
                b'd' => error.datatype = Some(value),
                b'n' => error.constraint = Some(value),
                b'F' => error.file = Some(value),
                b'L' => error.line = Some(value),
                b'R' => error.routine = Some(value),
                _ => {}
            }
        }
        error
    }
}

#[derive(Debug)]
pub enum PgError {
    /// The server said no (SQL error, auth failure, FATAL on connect).
    Db(Box<DbError>),
    Io(io::Error),
    /// The server closed the socket.
    Closed,
    /// Something we cannot speak (unsupported auth, unexpected message).
    Protocol(String),
}

impl PgError {
    /// Transport failures (as opposed to answers from the server).
    pub fn is_transport(&self) -> bool {
        matches!(self, PgError::Io(_) | PgError::Closed)
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Db(error) => write!(f, "db error: {}", error.message),
            PgError::Io(error) => write!(f, "error communicating with the server: {error}"),
            PgError::Closed => f.write_str("connection closed"),
            PgError::Protocol(message) => f.write_str(message),
        }
    }
}

impl From<io::Error> for PgError {
    fn from(error: io::Error) -> Self {
        PgError::Io(error)
    }
}

/// One column of a RowDescription.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub table_oid: u32,
    pub column_id: i16,
    pub type_oid: u32,
    pub type_size: i16,
    pub type_modifier: i32,
}

/// One open connection. Dropping it mid-query sends a CancelRequest so the server stops working.
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    read_buf: BytesMut,
    write_buf: BytesMut,
    process_id: i32,
    secret_key: i32,
    /// Last ReadyForQuery status: b'I' idle, b'T' in a transaction, b'E' in a failed one.
    status: u8,
    /// Between sending a query and reading its ReadyForQuery.
    in_query: bool,
    broken: bool,
    command_tag: Option<String>,
    /// Backend messages read since the last [`Connection::reset_read_count`].
    messages_read: u64,
}

impl Connection {
    pub async fn connect(params: &ConnectParams) -> Result<Connection, PgError> {
        let stream =
            tokio::time::timeout(params.connect_timeout, TcpStream::connect((params.host.as_str(), params.port)))
                .await
                .map_err(|_| PgError::Io(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))??;
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let mut conn = Connection {
            stream,
            peer,
            read_buf: BytesMut::with_capacity(8192),
            write_buf: BytesMut::with_capacity(1024),
            process_id: 0,
            secret_key: 0,
            status: b'I',
            in_query: false,
            broken: false,
            command_tag: None,
            messages_read: 0,
        };
        let result = conn.startup(params).await;
        if result.is_err() {
            conn.broken = true;
        }
        result.map(|()| conn)
    }

    async fn startup(&mut self, params: &ConnectParams) -> Result<(), PgError> {
        let mut startup: Vec<(&str, &str)> =
            vec![("user", &params.user), ("database", &params.database), ("client_encoding", "UTF8")];
        startup.extend(params.startup.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        frontend::startup_message(startup, &mut self.write_buf)?;
        self.flush().await?;

        let mut scram: Option<ScramSha256> = None;
        loop {
            match self.read_message().await? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(&params.password, &mut self.write_buf)?;
                    self.flush().await?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        params.user.as_bytes(),
                        &params.password,
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.write_buf)?;
                    self.flush().await?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut has_scram = false;
                    while let Some(mechanism) = mechanisms.next()? {
                        has_scram |= mechanism == SCRAM_SHA_256;
                    }
                    if !has_scram {
                        return Err(PgError::Protocol("server offered no supported SASL mechanism".into()));
                    }
                    let client = ScramSha256::new(&params.password, ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, client.message(), &mut self.write_buf)?;
                    self.flush().await?;
                    scram = Some(client);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let client = scram.as_mut().ok_or_else(|| PgError::Protocol("unexpected SASL continue".into()))?;
                    client.update(body.data())?;
                    frontend::sasl_response(client.message(), &mut self.write_buf)?;
                    self.flush().await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let client = scram.as_mut().ok_or_else(|| PgError::Protocol("unexpected SASL final".into()))?;
                    client.finish(body.data())?;
                }
                Message::BackendKeyData(body) => {
                    self.process_id = body.process_id();
                    self.secret_key = body.secret_key();
                }
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    return Ok(());
                }
                Message::ErrorResponse(body) => {
                    return Err(PgError::Db(Box::new(DbError::parse(&body))));
                }
                _ => {
                    return Err(PgError::Protocol("unsupported authentication method requested by the server".into()));
                }
            }
        }
    }

    /// Parse + Bind (all parameters text, types unspecified) + Describe + Execute + Sync in one
    /// round trip; returns the columns. Rows follow through [`Connection::next_row`].
    pub async fn start_query(&mut self, query: &str, params: &[Option<String>]) -> Result<Vec<Column>, PgError> {
        self.command_tag = None;
        frontend::parse("", query, std::iter::empty(), &mut self.write_buf)?;
        let bound = frontend::bind(
            "",
            "",
            std::iter::empty(), // every parameter in the default (text) format
            params.iter(),
            |param, buf| match param {
                Some(text) => {
                    buf.put_slice(text.as_bytes());
                    Ok(postgres_protocol::IsNull::No)
                }
                None => Ok(postgres_protocol::IsNull::Yes),
            },
            std::iter::empty(), // every result column in the default (text) format
            &mut self.write_buf,
        );
        if let Err(err) = bound {
            self.write_buf.clear();
            return Err(PgError::Protocol(match err {
                frontend::BindError::Conversion(err) => err.to_string(),
                frontend::BindError::Serialization(err) => err.to_string(),
            }));
        }
        frontend::describe(b'P', "", &mut self.write_buf)?;
        frontend::execute("", 0, &mut self.write_buf)?;
        frontend::sync(&mut self.write_buf);
        self.in_query = true;
        self.flush().await?;

        loop {
            match self.read_message().await? {
                Message::ParseComplete | Message::BindComplete => {}
                Message::NoData => return Ok(Vec::new()),
                Message::RowDescription(body) => {
                    let mut columns = Vec::new();
                    let mut fields = body.fields();
                    while let Some(field) = fields.next()? {
                        columns.push(Column {
                            name: field.name().to_owned(),
                            table_oid: field.table_oid(),
                            column_id: field.column_id(),
                            type_oid: field.type_oid(),
                            type_size: field.type_size(),
                            type_modifier: field.type_modifier(),
                        });
                    }
                    return Ok(columns);
                }
                Message::ErrorResponse(body) => return Err(self.fail_query(&body).await),
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// The next row of the current query, or `None` after its ReadyForQuery.
    pub async fn next_row(&mut self) -> Result<Option<DataRowBody>, PgError> {
        loop {
            match self.read_message().await? {
                Message::DataRow(row) => return Ok(Some(row)),
                Message::CommandComplete(body) => {
                    self.command_tag = body.tag().ok().map(str::to_owned);
                }
                Message::EmptyQueryResponse | Message::PortalSuspended => {}
                // COPY has no place in this protocol: refuse COPY FROM STDIN, skip COPY TO STDOUT.
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("COPY FROM STDIN is not supported over HTTP", &mut self.write_buf)?;
                    frontend::sync(&mut self.write_buf);
                    self.flush().await?;
                }
                Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {}
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    self.in_query = false;
                    return Ok(None);
                }
                Message::ErrorResponse(body) => return Err(self.fail_query(&body).await),
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// The CommandComplete tag of the last query (`INSERT 0 2`), if it had one.
    pub fn command_tag(&self) -> Option<&str> {
        self.command_tag.as_deref()
    }

    /// Runs a simple-protocol statement (no params, no rows kept), e.g. BEGIN or COMMIT.
    pub async fn simple_query(&mut self, sql: &str) -> Result<(), PgError> {
        frontend::query(sql, &mut self.write_buf)?;
        self.in_query = true;
        self.flush().await?;
        let mut first_error = None;
        loop {
            match self.read_message().await? {
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    self.in_query = false;
                    return match first_error {
                        Some(error) => Err(PgError::Db(Box::new(error))),
                        None => Ok(()),
                    };
                }
                Message::ErrorResponse(body) => {
                    first_error.get_or_insert_with(|| DbError::parse(&body));
                }
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("COPY FROM STDIN is not supported", &mut self.write_buf)?;
                    self.flush().await?;
                }
                _ => {}
            }
        }
    }

    /// Idle, healthy and with nothing unread: safe to hand to another request.
    pub fn is_reusable(&self) -> bool {
        !self.broken && !self.in_query && self.status == b'I'
    }

    /// True if the server already closed this idle connection or sent something unasked
    /// (a FATAL "terminating connection" after a restart). Checked without blocking.
    pub fn is_stale(&self) -> bool {
        if !self.read_buf.is_empty() {
            return true;
        }
        let mut byte = 0u8;
        // SAFETY: a 1-byte peek into a valid buffer on a socket we own; MSG_DONTWAIT never blocks.
        let n = unsafe {
            libc::recv(self.stream.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            err.kind() != io::ErrorKind::WouldBlock
        } else {
            true // 0 = orderly close, 1 = unsolicited data
        }
    }

    /// Not broken and not in the middle of a query: another statement can be sent.
    pub fn is_between_queries(&self) -> bool {
        !self.broken && !self.in_query
    }

    pub fn reset_read_count(&mut self) {
        self.messages_read = 0;
    }

    /// Whether anything came back since [`Connection::reset_read_count`]; a pooled connection
    /// that failed before any reply never ran the statement, so the request can be retried.
    pub fn has_read_since_reset(&self) -> bool {
        self.messages_read > 0
    }

    /// Reads the rest of a failed query up to ReadyForQuery and returns the server's error.
    async fn fail_query(&mut self, body: &ErrorResponseBody) -> PgError {
        let error = DbError::parse(body);
        loop {
            match self.read_message().await {
                Ok(Message::ReadyForQuery(body)) => {
                    self.status = body.status();
                    self.in_query = false;
                    return PgError::Db(Box::new(error));
                }
                Ok(Message::CopyInResponse(_)) => {
                    if frontend::copy_fail("aborted", &mut self.write_buf).is_ok() {
                        frontend::sync(&mut self.write_buf);
                        if let Err(err) = self.flush().await {
                            return err;
                        }
                    }
                }
                Ok(_) => {}
                Err(err) => return err,
            }
        }
    }

    fn unexpected(&mut self) -> PgError {
        self.broken = true;
        PgError::Protocol("unexpected message from server".into())
    }

    async fn flush(&mut self) -> Result<(), PgError> {
        let result = self.stream.write_all(&self.write_buf).await;
        self.write_buf.clear();
        if let Err(err) = result {
            self.broken = true;
            return Err(PgError::Io(err));
        }
        Ok(())
    }

    /// The next backend message, skipping the asynchronous ones (notices, parameter status).
    async fn read_message(&mut self) -> Result<Message, PgError> {
        loop {
            match Message::parse(&mut self.read_buf) {
                Ok(Some(message)) => {
                    self.messages_read += 1;
                    match message {
                        Message::NoticeResponse(_) | Message::ParameterStatus(_) | Message::NotificationResponse(_) => {
                            continue;
                        }
                        message => return Ok(message),
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    self.broken = true;
                    return Err(PgError::Io(err));
                }
            }
            self.read_buf.reserve(8192);
            match self.stream.read_buf(&mut self.read_buf).await {
                Ok(0) => {
                    self.broken = true;
                    return Err(PgError::Closed);
                }
                Ok(_) => {}
                Err(err) => {
                    self.broken = true;
                    return Err(PgError::Io(err));
                }
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Dropped mid-query (client went away, response too large): ask the server to stop.
        if self.in_query
            && self.secret_key != 0
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (peer, process_id, secret_key) = (self.peer, self.process_id, self.secret_key);
            runtime.spawn(async move {
                let mut buf = BytesMut::new();
                frontend::cancel_request(process_id, secret_key, &mut buf);
                if let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(peer)).await
                {
                    let _ = stream.write_all(&buf).await;
                    // The server closes the socket once it has read the request.
                    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_u8()).await;
                }
            });
        }
    }
}
