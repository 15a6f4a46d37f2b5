//! Parquet input for `rmmc eval`: exports from data lakes (Azure Data Explorer and Sentinel
//! data lake exports, Security Lake, Spark jobs) come as Parquet. The arrow reader decodes one
//! batch of rows at a time, reading only the top-level columns the rules need, and each batch
//! is written out as JSON lines: the one shape every evaluator reads (`stream::open`). Memory
//! holds one batch, whatever the file's size.
//!
//! Timestamps: a Parquet timestamp is an instant (UTC-adjusted) or a wall-clock time with no
//! zone. Both are written as RFC 3339 text in UTC (`2026-05-31T09:12:00Z`), the form the JSON
//! exports of the products carry and the evaluators read as a datetime; a wall-clock value is
//! taken as UTC, as Kusto and Elasticsearch take a datetime without a zone.

use super::input::Pending;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Rows decoded per batch: large enough that the per-batch cost vanishes, small enough that a
/// batch of wide rows stays a few MB.
const BATCH_ROWS: usize = 8192;

/// True when `path` is a Parquet file: its first four bytes are the format's magic `PAR1`.
pub(super) fn is_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"PAR1"
}

/// A Parquet file's rows as JSON lines. `columns`: the top-level columns to read (`None`: all);
/// a column the file does not have is simply absent from every event, as a missing JSON key.
/// `progress` is told about how many bytes of the file the rows read so far stand for (the
/// share of rows read, times the file's size), as the other readers tell the bytes read.
pub(super) fn open(
    path: &Path,
    columns: Option<&[String]>,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<ParquetLines, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| at(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| at(&e))?;
    let total = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let builder = match columns {
        Some(wanted) => {
            let descr = builder.parquet_schema();
            let roots: Vec<usize> = builder
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| wanted.iter().any(|w| w == f.name()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(descr, roots);
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| at(&e))?;
    Ok(ParquetLines {
        reader,
        pending: Pending::default(),
        rows: 0,
        total,
        size,
        progress: Box::new(progress),
        name: path.display().to_string(),
    })
}

/// A Parquet file read as JSON lines (`std::io::Read`), one batch at a time.
pub(super) struct ParquetLines {
    reader: ParquetRecordBatchReader,
    pending: Pending,
    rows: u64,
    /// The rows the file says it holds, and its size in bytes, for the progress bar.
    total: u64,
    size: u64,
    progress: Box<dyn FnMut(u64) + Send>,
    name: String,
}

impl ParquetLines {
    /// The next batch as JSON lines, made ready in `pending`; false at the end of the file.
    fn refill(&mut self) -> std::io::Result<bool> {
        let Some(batch) = self.reader.next() else {
            return Ok(false);
        };
        let batch = batch.map_err(|e| std::io::Error::other(format!("{}: {e}", self.name)))?;
        self.rows += batch.num_rows() as u64;
        let share = self.rows as f64 / self.total.max(1) as f64;
        (self.progress)((share.min(1.0) * self.size as f64) as u64);
        let batch = timestamps_as_text(&batch)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", self.name)))?;
        let mut writer = arrow_json::LineDelimitedWriter::new(self.pending.refill());
        writer
            .write(&batch)
            .and_then(|()| writer.finish())
            .map_err(|e| std::io::Error::other(format!("{}: {e}", self.name)))?;
        Ok(true)
    }
}

impl Read for ParquetLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        // a batch of rows with no column the rules read writes nothing: read on
        while self.pending.is_drained() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        Ok(self.pending.hand_out(out))
    }
}

/// `batch` with every timestamp column, at any depth of structs, as RFC 3339 text in UTC.
fn timestamps_as_text(batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| has_timestamp(f.data_type()))
    {
        return Ok(batch.clone());
    }
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| convert(f, c))
        .unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn has_timestamp(t: &DataType) -> bool {
    match t {
        DataType::Timestamp(..) => true,
        DataType::Struct(fields) => fields.iter().any(|f| has_timestamp(f.data_type())),
        _ => false,
    }
}

fn convert(field: &Field, column: &ArrayRef) -> (Field, ArrayRef) {
    match field.data_type() {
        DataType::Timestamp(unit, _) => {
            let per_ns: i128 = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let raw: Vec<Option<i64>> = match unit {
                TimeUnit::Second => column
                    .as_primitive::<TimestampSecondType>()
                    .iter()
                    .collect(),
                TimeUnit::Millisecond => column
                    .as_primitive::<TimestampMillisecondType>()
                    .iter()
                    .collect(),
                TimeUnit::Microsecond => column
                    .as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .collect(),
                TimeUnit::Nanosecond => column
                    .as_primitive::<TimestampNanosecondType>()
                    .iter()
                    .collect(),
            };
            let text: StringArray = raw
                .into_iter()
                .map(|v| v.map(|v| crate::eval::time::format_rfc3339(v as i128 * per_ns)))
                .collect();
            (
                Field::new(field.name(), DataType::Utf8, field.is_nullable()),
                Arc::new(text),
            )
        }
        DataType::Struct(children) if has_timestamp(field.data_type()) => {
            let parent = column.as_struct();
            let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = children
                .iter()
                .zip(parent.columns())
                .map(|(f, c)| convert(f, c))
                .unzip();
            let array = StructArray::new(fields.clone().into(), columns, parent.nulls().cloned());
            (
                Field::new(
                    field.name(),
                    DataType::Struct(fields.into()),
                    field.is_nullable(),
                ),
                Arc::new(array),
            )
        }
        _ => (field.clone(), column.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};
    use parquet::arrow::ArrowWriter;

    fn write(path: &Path, batch: &RecordBatch) {
        let file = std::fs::File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
    }

    fn lines(path: &Path, columns: Option<&[String]>) -> Vec<serde_json::Value> {
        let mut text = String::new();
        open(path, columns, |_| {})
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn rows_become_json_lines_with_utc_timestamps_and_absent_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let process = StructArray::from(vec![(
            Arc::new(Field::new("name", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("client32.exe"), None])) as ArrayRef,
        )]);
        let batch = RecordBatch::try_from_iter(vec![
            (
                "Timestamp",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_780_218_720_000_000), None])
                        .with_timezone("UTC"),
                ) as ArrayRef,
            ),
            (
                "RemoteUrl",
                Arc::new(StringArray::from(vec![
                    Some("geo.netsupportsoftware.com"),
                    None,
                ])),
            ),
            ("RemotePort", Arc::new(Int64Array::from(vec![443, 80]))),
            ("process", Arc::new(process)),
        ])
        .unwrap();
        write(&path, &batch);
        assert!(is_parquet(&path));
        let rows = lines(&path, None);
        assert_eq!(
            rows[0],
            serde_json::json!({
                "Timestamp": "2026-05-31T09:12:00Z",
                "RemoteUrl": "geo.netsupportsoftware.com",
                "RemotePort": 443,
                "process": {"name": "client32.exe"}
            })
        );
        // a null is an absent key, as in the products' JSON exports
        assert_eq!(
            rows[1],
            serde_json::json!({"RemotePort": 80, "process": {}})
        );
        // only the columns asked for are read
        let rows = lines(&path, Some(&["RemotePort".to_string()]));
        assert_eq!(rows[0], serde_json::json!({"RemotePort": 443}));
    }

    #[test]
    fn a_file_that_is_not_parquet_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        std::fs::write(&path, b"{\"a\":1}\n").unwrap();
        assert!(!is_parquet(&path));
        let err = open(&path, None, |_| {}).err().unwrap();
        assert!(err.contains("events.parquet"), "{err}");
    }
}
