using System.Buffers.Binary;
using System.Text;

namespace VirtioScope.Tracing.Format;

/// <summary>Decodes one chunk's decompressed payload into events; every error names the record and field.</summary>
internal static class RecordDecoder
{
    public static TraceEvent[] Decode(byte[] payload, long firstEvent, int count, long chunkOffset)
    {
        var events = new TraceEvent[count];
        ReadOnlySpan<byte> p = payload;
        int pos = 0;
        for (int i = 0; i < count; i++)
        {
            long number = firstEvent + i;
            if (pos >= p.Length)
            {
                throw new InvalidDataException($"trace chunk at offset {chunkOffset}: payload ends before event #{number} (chunk says {count} events)");
            }
            var kind = (RecordKind)p[pos++];
            var c = new Cursor(payload, pos, number, kind);
            events[i] = kind switch
            {
                RecordKind.MmioRead or RecordKind.MmioWrite => new TraceEvent
                {
                    Number = number, Kind = kind, Address = c.Var("offset"), Length = c.Byte("width"), Value = c.Var("value"),
                },
                RecordKind.MmioReadUnvalued => new TraceEvent { Number = number, Kind = kind, Address = c.Var("offset"), Length = c.Byte("width") },
                RecordKind.GuestRead => GuestRead(ref c),
                RecordKind.DeviceWrite => DeviceWrite(ref c),
                RecordKind.Interrupt or RecordKind.IrqLevel => new TraceEvent { Number = number, Kind = kind, Value = c.Var("value") },
                RecordKind.BackendIo => BackendIo(ref c),
                RecordKind.Request => new TraceEvent
                {
                    Number = number, Kind = kind, Queue = c.Int("queue"), Id = c.Int("id"), Code = c.Byte("type"),
                    Address = c.Var("sector"), Length = (long)c.Var("data bytes"), Segments = c.Int("segments"),
                    Value = c.Var("rejection"), Timestamp = (long)c.Var("timestamp"),
                },
                RecordKind.Completion => new TraceEvent
                {
                    Number = number, Kind = kind, Queue = c.Int("queue"), Id = c.Int("id"), Code = c.Byte("status"),
                    Value = c.Var("used length"), Timestamp = (long)c.Var("timestamp"),
                },
                RecordKind.Fault or RecordKind.Note => new TraceEvent { Number = number, Kind = kind, Text = c.Text("text") },
                RecordKind.QueueLimit => new TraceEvent { Number = number, Kind = kind, Value = c.Var("value"), Length = (long)c.Var("max") },
                _ => throw new InvalidDataException($"trace event #{number}: unknown record kind {(int)kind} at chunk {chunkOffset} payload offset {pos - 1}"),
            };
            pos = c.Position;
        }
        if (pos != p.Length)
        {
            throw new InvalidDataException($"trace chunk at offset {chunkOffset}: {p.Length - pos} bytes left after its {count} events");
        }
        return events;
    }

    /// <summary>
    /// How many whole records the start of a payload holds (at most <paramref name="maxCount"/>), and how many bytes
    /// they take: for a chunk cut short, whose last record may be incomplete. Only the framing is checked here.
    /// </summary>
    public static (int Count, int Bytes) CompletePrefix(ReadOnlySpan<byte> p, int maxCount)
    {
        int pos = 0;
        int count = 0;
        while (count < maxCount && pos < p.Length && RecordLength(p[pos..]) is int n && n > 0)
        {
            pos += n;
            count++;
        }
        return (count, pos);
    }

    /// <summary>Bytes of the record at the start of <paramref name="p"/>, or null if it does not end within <paramref name="p"/> or its kind is unknown.</summary>
    private static int? RecordLength(ReadOnlySpan<byte> p)
    {
        int pos = 1;
        bool ok = (RecordKind)p[0] switch
        {
            RecordKind.MmioRead or RecordKind.MmioWrite => Skip(p, ref pos, "vbv"),
            RecordKind.MmioReadUnvalued => Skip(p, ref pos, "vb"),
            RecordKind.GuestRead => Skip(p, ref pos, "v") && SkipData(p, ref pos, withFlag: false),
            RecordKind.DeviceWrite => Skip(p, ref pos, "v") && SkipData(p, ref pos, withFlag: true),
            RecordKind.Interrupt or RecordKind.IrqLevel => Skip(p, ref pos, "v"),
            RecordKind.BackendIo => p.Length > 1 && Skip(p, ref pos, p[1] is 0 or 1 ? "bvv8" : "bvv"),
            RecordKind.Request => Skip(p, ref pos, "vvbvvvvv"),
            RecordKind.Completion => Skip(p, ref pos, "vvbvv"),
            RecordKind.Fault or RecordKind.Note => Varint.TryRead(p, ref pos, out ulong length, "text length") && (ulong)(p.Length - pos) >= length && Advance(ref pos, (int)length),
            RecordKind.QueueLimit => Skip(p, ref pos, "vv"),
            _ => false,
        };
        return ok ? pos : null;
    }

    /// <summary>Steps over fields: v a varint, b a byte, 8 a u64.</summary>
    private static bool Skip(ReadOnlySpan<byte> p, ref int pos, string fields)
    {
        foreach (char f in fields)
        {
            int size = f switch { 'b' => 1, '8' => 8, _ => 0 };
            if (size == 0)
            {
                if (!Varint.TryRead(p, ref pos, out _, "field"))
                {
                    return false;
                }
            }
            else if (p.Length - pos < size || !Advance(ref pos, size))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Steps over a length, then (DeviceWrite) a hash and a has-data flag, then the bytes.</summary>
    private static bool SkipData(ReadOnlySpan<byte> p, ref int pos, bool withFlag)
    {
        if (!Varint.TryRead(p, ref pos, out ulong length, "length"))
        {
            return false;
        }
        bool hasData = true;
        if (withFlag)
        {
            if (p.Length - pos < 9)
            {
                return false;
            }
            hasData = p[pos + 8] != 0;
            pos += 9;
        }
        ulong bytes = hasData ? length : 0;
        return (ulong)(p.Length - pos) >= bytes && Advance(ref pos, (int)bytes);
    }

    private static bool Advance(ref int pos, int n)
    {
        pos += n;
        return true;
    }

    private static TraceEvent GuestRead(ref Cursor c)
    {
        ulong address = c.Var("address");
        int length = c.Int("length");
        return new TraceEvent { Number = c.Number, Kind = c.Kind, Address = address, Length = length, Data = c.Bytes(length, "bytes") };
    }

    private static TraceEvent DeviceWrite(ref Cursor c)
    {
        ulong address = c.Var("address");
        int length = c.Int("length");
        ulong hash = c.U64("hash");
        byte hasData = c.Byte("has data");
        if (hasData > 1)
        {
            throw new InvalidDataException($"trace event #{c.Number} (DeviceWrite): field 'has data' is {hasData}, not 0 or 1");
        }
        ReadOnlyMemory<byte> data = hasData == 1 ? c.Bytes(length, "bytes") : default;
        return new TraceEvent { Number = c.Number, Kind = c.Kind, Address = address, Length = length, Hash = hash, Data = data };
    }

    private static TraceEvent BackendIo(ref Cursor c)
    {
        byte op = c.Byte("operation");
        if (op > (byte)BackendOp.WriteZeroesUnmap)
        {
            throw new InvalidDataException($"trace event #{c.Number} (BackendIo): field 'operation' has unknown value {op}");
        }
        long offset = (long)c.Var("offset");
        long length = (long)c.Var("length");
        ulong hash = (BackendOp)op is BackendOp.Read or BackendOp.Write ? c.U64("hash") : 0;
        return new TraceEvent { Number = c.Number, Kind = c.Kind, Code = op, Address = (ulong)offset, Length = length, Hash = hash };
    }

    private struct Cursor(byte[] payload, int position, long number, RecordKind kind)
    {
        public int Position = position;
        public readonly long Number = number;
        public readonly RecordKind Kind = kind;

        public ulong Var(string field)
        {
            if (!Varint.TryRead(payload, ref Position, out ulong v, field))
            {
                throw Short(field);
            }
            return v;
        }

        public int Int(string field)
        {
            ulong v = Var(field);
            if (v > int.MaxValue)
            {
                throw new InvalidDataException($"trace event #{Number} ({Kind}): field '{field}' value {v} is too large");
            }
            return (int)v;
        }

        public byte Byte(string field)
        {
            if (Position >= payload.Length)
            {
                throw Short(field);
            }
            return payload[Position++];
        }

        public ulong U64(string field)
        {
            if (payload.Length - Position < 8)
            {
                throw Short(field);
            }
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(Position));
            Position += 8;
            return v;
        }

        public ReadOnlyMemory<byte> Bytes(int length, string field)
        {
            if (payload.Length - Position < length)
            {
                throw Short(field);
            }
            var m = new ReadOnlyMemory<byte>(payload, Position, length);
            Position += length;
            return m;
        }

        public string Text(string field)
        {
            int length = Int("text length");
            ReadOnlyMemory<byte> m = Bytes(length, field);
            return Encoding.UTF8.GetString(m.Span);
        }

        private readonly InvalidDataException Short(string field) =>
            new($"trace event #{Number} ({Kind}): chunk payload ends inside field '{field}'");
    }
}
