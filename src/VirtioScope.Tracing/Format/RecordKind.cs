namespace VirtioScope.Tracing.Format;

/// <summary>The tag byte that starts every record in a chunk (see docs/trace-format.md for each layout).</summary>
public enum RecordKind : byte
{
    /// <summary>The driver loaded a register: offset, width, value.</summary>
    MmioRead = 1,

    /// <summary>The driver stored a register: offset, width, value.</summary>
    MmioWrite = 2,

    /// <summary>The driver loaded a register whose value the source did not log (QEMU logs): offset, width.</summary>
    MmioReadUnvalued = 3,

    /// <summary>The device read guest memory the guest had written: address and the bytes.</summary>
    GuestRead = 4,

    /// <summary>The device wrote guest memory: address, length, hash, and the bytes in a full trace.</summary>
    DeviceWrite = 5,

    /// <summary>The device raised its interrupt line: InterruptStatus at that moment.</summary>
    Interrupt = 6,

    /// <summary>The device called its backend: operation, offset, length, data hash.</summary>
    BackendIo = 7,

    /// <summary>The device parsed a request: queue, head id, type, sector, data bytes, segments, rejection, time.</summary>
    Request = 8,

    /// <summary>The device completed a request: queue, head id, status, used length, time.</summary>
    Completion = 9,

    /// <summary>The device reported a driver mistake: message.</summary>
    Fault = 10,

    /// <summary>A QueueNum write with the device's maximum, as QEMU logs it: value, maximum.</summary>
    QueueLimit = 11,

    /// <summary>The interrupt line changed level, as QEMU logs it: level.</summary>
    IrqLevel = 12,

    /// <summary>Anything else a source logged that has no record of its own: text.</summary>
    Note = 13,
}

/// <summary>The backend operation of a <see cref="RecordKind.BackendIo"/> record.</summary>
public enum BackendOp : byte
{
    /// <summary>Read; the hash covers the bytes returned.</summary>
    Read = 0,

    /// <summary>Write; the hash covers the bytes written.</summary>
    Write = 1,

    /// <summary>Flush.</summary>
    Flush = 2,

    /// <summary>Discard.</summary>
    Discard = 3,

    /// <summary>Write-zeroes that must stay allocated.</summary>
    WriteZeroes = 4,

    /// <summary>Write-zeroes that may release storage.</summary>
    WriteZeroesUnmap = 5,
}
