//! Zero-copy access to Python byte buffers, and uninitialised output
//! `bytes` objects that Rust fills in while the GIL is released.

use std::mem::MaybeUninit;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};

use crate::error::InvalidInput;

/// A read-only view of a C-contiguous buffer (`bytes`, `bytearray`,
/// `memoryview`, `mmap`, `array.array`, numpy arrays...). No copy is made.
/// `bytes` skips the buffer protocol, which matters for small inputs.
pub(crate) struct ByteView<'py> {
    _owner: Bound<'py, PyAny>,
    view: Option<Box<ffi::Py_buffer>>,
    ptr: *const u8,
    len: usize,
}

impl<'py> ByteView<'py> {
    pub(crate) fn new(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            let s = b.as_bytes();
            return Ok(ByteView { _owner: obj.clone(), view: None, ptr: s.as_ptr(), len: s.len() });
        }
        let mut view: Box<MaybeUninit<ffi::Py_buffer>> = Box::new(MaybeUninit::zeroed());
        // SAFETY: `obj` is a live object and `view` points to writable memory
        // of the right size; on success CPython fills it and we own one
        // export, released exactly once in Drop.
        let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_STRIDES) };
        if rc != 0 {
            let err = PyErr::fetch(obj.py());
            return Err(if err.is_instance_of::<pyo3::exceptions::PyBufferError>(obj.py()) {
                InvalidInput::new_err(format!("{}: {}", obj.get_type().name()?, err.value(obj.py())))
            } else {
                PyTypeError::new_err(format!("a bytes-like object is required, not '{}'", obj.get_type().name()?))
            });
        }
        // SAFETY: PyObject_GetBuffer succeeded, so the view is initialised.
        let view: Box<ffi::Py_buffer> = unsafe { Box::from_raw(Box::into_raw(view).cast()) };
        let mut this =
            ByteView { _owner: obj.clone(), ptr: view.buf as *const u8, len: view.len as usize, view: Some(view) };
        let contiguous = this.view.as_mut().is_some_and(|v| {
            // SAFETY: `v` is the live view obtained above.
            unsafe { ffi::PyBuffer_IsContiguous(&**v, b'C' as std::ffi::c_char) == 1 }
        });
        if !contiguous {
            return Err(InvalidInput::new_err(format!(
                "{} is not C-contiguous; pass a contiguous copy (e.g. bytes(x))",
                obj.get_type().name()?
            )));
        }
        if this.len == 0 {
            this.ptr = std::ptr::NonNull::<u8>::dangling().as_ptr();
        }
        Ok(this)
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr`/`len` describe memory owned by `_owner` and kept
        // alive (and, for buffer exporters, pinned against resizing) by the
        // export we hold until Drop. A zero length uses a dangling,
        // well-aligned pointer as `from_raw_parts` requires.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for ByteView<'_> {
    fn drop(&mut self) {
        if let Some(view) = self.view.as_mut() {
            // SAFETY: we hold exactly one export obtained by
            // PyObject_GetBuffer, and 'py proves we are attached.
            unsafe { ffi::PyBuffer_Release(&mut **view) };
        }
    }
}

/// Views of every item of a list, tuple or other iterable of buffers.
pub(crate) fn views<'py>(seq: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<ByteView<'py>>> {
    let one = |i: usize, item: Bound<'py, PyAny>| {
        ByteView::new(&item).map_err(|e| {
            let py = seq.py();
            let ty = e.get_type(py);
            PyErr::from_type(ty, format!("{what}[{i}]: {}", e.value(py)))
        })
    };
    if let Ok(list) = seq.cast::<PyList>() {
        return list.iter().enumerate().map(|(i, x)| one(i, x)).collect();
    }
    if let Ok(tuple) = seq.cast::<PyTuple>() {
        return tuple.iter().enumerate().map(|(i, x)| one(i, x)).collect();
    }
    if seq.is_instance_of::<PyBytes>() || seq.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of bytes-like objects, not a single {}",
            seq.get_type().name()?
        )));
    }
    let it =
        seq.try_iter().map_err(|_| PyTypeError::new_err(format!("{what} must be a sequence of bytes-like objects")))?;
    it.enumerate().map(|(i, x)| one(i, x?)).collect()
}

/// Slices of a list of views.
pub(crate) fn slices<'a>(views: &'a [ByteView<'_>]) -> Vec<&'a [u8]> {
    views.iter().map(ByteView::as_slice).collect()
}

/// An output object and the writable bytes inside it.
pub(crate) struct OutBytes<'py> {
    pub(crate) obj: Bound<'py, PyAny>,
    ptr: *mut u8,
    len: usize,
}

impl<'py> OutBytes<'py> {
    /// A new `bytes` of `len` bytes whose contents Rust writes afterwards.
    pub(crate) fn bytes(py: Python<'py>, len: usize) -> PyResult<Self> {
        // SAFETY: a NULL source asks CPython for an uninitialised buffer of
        // `len` bytes (plus a NUL it writes itself); we fill all of it
        // before the object is handed to Python code.
        let obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as ffi::Py_ssize_t) };
        // SAFETY: a new reference or NULL with an exception set.
        let obj = unsafe { Bound::from_owned_ptr_or_err(py, obj) }?;
        Self::wrap(obj, len)
    }

    /// A new instance of `ty`, a subclass of `bytes`, of `len` bytes,
    /// allocated in place (no intermediate copy), contents written later.
    pub(crate) fn subclass(ty: &Bound<'py, PyType>, len: usize) -> PyResult<Self> {
        let py = ty.py();
        let tp = ty.as_type_ptr();
        // SAFETY: `ty` is a live type object; we only read its slot.
        let alloc = unsafe { (*tp).tp_alloc }.unwrap_or(ffi::PyType_GenericAlloc);
        // SAFETY: tp_alloc of a bytes subclass returns a zeroed object with
        // room for `len` items plus the trailing NUL, ob_size = len, and
        // the type's __dict__ slot empty, exactly as bytes.__new__ gets it.
        let raw = unsafe { alloc(tp, len as ffi::Py_ssize_t) };
        // SAFETY: a new reference or NULL with an exception set.
        let obj = unsafe { Bound::from_owned_ptr_or_err(py, raw) }?;
        // SAFETY: the caller registered `ty` as a bytes subclass (checked
        // at registration), so the object starts with a PyBytesObject. The
        // cached hash must read "not computed" (-1), as bytes.__new__ sets
        // it; zero would make hash(shard) != hash(bytes(shard)).
        #[allow(deprecated)]
        unsafe {
            (*raw.cast::<ffi::PyBytesObject>()).ob_shash = -1;
        }
        Self::wrap(obj, len)
    }

    fn wrap(obj: Bound<'py, PyAny>, len: usize) -> PyResult<Self> {
        // SAFETY: `obj` is a bytes (sub)class instance; AsString returns its
        // internal buffer of `len` bytes, valid while `obj` lives.
        let ptr = unsafe { ffi::PyBytes_AsString(obj.as_ptr()) }.cast::<u8>();
        if ptr.is_null() {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(OutBytes { obj, ptr, len })
    }

    /// The writable contents.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr`/`len` is the buffer of an object created above that
        // no Python code has seen yet, so nobody else reads or writes it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}
