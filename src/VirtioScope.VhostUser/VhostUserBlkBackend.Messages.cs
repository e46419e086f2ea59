using System.Buffers.Binary;
using VirtioScope.VhostUser.Native;
using VirtioScope.VhostUser.Protocol;

namespace VirtioScope.VhostUser;

/// <summary>What handling one message produced.</summary>
/// <param name="Error">Why the request failed, or null.</param>
/// <param name="ReplySize">Bytes of the request's own reply payload (GET_* requests), or -1 when it has none.</param>
internal readonly record struct HandleResult(string? Error, int ReplySize)
{
    public static HandleResult Done => new(null, -1);

    public static HandleResult Fail(string error) => new(error, -1);

    public static HandleResult Reply(int size) => new(null, size);
}

public sealed partial class VhostUserBlkBackend
{
    /// <summary>
    /// Handles one parsed message. The reply payload, if the request has one, goes into <paramref name="reply"/>.
    /// Descriptors the handler keeps are taken out of <paramref name="m"/>; the caller closes the rest.
    /// </summary>
    internal HandleResult Handle(ReceivedMessage m, Span<byte> reply)
    {
        // Held so a debugger's look at the rings and memory (Inspect) never sees them half changed or unmapped.
        lock (_stateLock)
        {
            return HandleLocked(m, reply);
        }
    }

    private HandleResult HandleLocked(ReceivedMessage m, Span<byte> reply)
    {
        ReadOnlySpan<byte> p = m.Body;
        return m.Header.Request switch
        {
            VhostUserRequest.GetFeatures => ReplyU64(reply, OfferedFeatures),
            VhostUserRequest.SetFeatures => Sized(p, 8) ?? SetFeatures(BinaryPrimitives.ReadUInt64LittleEndian(p)),
            VhostUserRequest.GetProtocolFeatures => ReplyU64(reply, ProtocolFeatures.Supported),
            VhostUserRequest.SetProtocolFeatures => Sized(p, 8) ?? SetProtocolFeatures(BinaryPrimitives.ReadUInt64LittleEndian(p)),
            VhostUserRequest.SetOwner => HandleResult.Done,
            VhostUserRequest.ResetOwner or VhostUserRequest.ResetDevice => ResetDevice(),
            VhostUserRequest.GetQueueNum => ReplyU64(reply, (ulong)_vrings.Length),
            VhostUserRequest.GetMaxMemSlots => ReplyU64(reply, VhostUserWire.MaxMemSlots),
            VhostUserRequest.SetMemTable => SetMemTable(m),
            VhostUserRequest.AddMemReg => Sized(p, 8 + RegionDescriptor.WireSize) ?? AddMemReg(m),
            VhostUserRequest.RemMemReg => Sized(p, 8 + RegionDescriptor.WireSize) ?? RemMemReg(p),
            VhostUserRequest.SetVringNum => Sized(p, 8) ?? WithRing(p, SetVringNum),
            VhostUserRequest.SetVringAddr => Sized(p, VringAddresses.WireSize) ?? SetVringAddr(VringAddresses.Read(p)),
            VhostUserRequest.SetVringBase => Sized(p, 8) ?? WithRing(p, SetVringBase),
            VhostUserRequest.GetVringBase => Sized(p, 8) ?? GetVringBase(p, reply),
            VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr => Sized(p, 8) ?? SetVringFile(m),
            VhostUserRequest.SetVringEnable => Sized(p, 8) ?? WithRing(p, SetVringEnable),
            VhostUserRequest.GetConfig => GetConfig(p, reply),
            VhostUserRequest.SetConfig => SetConfig(p),
            _ => HandleResult.Fail($"unsupported request {(uint)m.Header.Request} ({m.Header.Request})"),
        };
    }

    /// <summary>
    /// What to send after handling: the request's own reply; a REPLY_ACK status when one was asked for; nothing; or
    /// null to close the connection (a failure the front-end cannot be told about).
    /// </summary>
    internal int? ReplyFor(MessageHeader header, HandleResult result, Span<byte> message)
    {
        int payload;
        if (result.Error is null && result.ReplySize >= 0)
        {
            payload = result.ReplySize;
        }
        else if (result.ReplySize < 0 && header.NeedsReply && ReplyAck)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(message[VhostUserWire.HeaderSize..], result.Error is null ? 0UL : 1UL);
            payload = 8;
        }
        else if (result.Error is null)
        {
            return 0;
        }
        else
        {
            return null;
        }
        MessageHeader.WriteReply(message, header.Request, payload);
        return VhostUserWire.HeaderSize + payload;
    }

    private static HandleResult? Sized(ReadOnlySpan<byte> payload, int expected) =>
        payload.Length == expected ? null : HandleResult.Fail($"payload of {payload.Length} bytes, expected {expected}");

    private static HandleResult ReplyU64(Span<byte> reply, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(reply, value);
        return HandleResult.Reply(8);
    }

    private HandleResult WithRing(ReadOnlySpan<byte> p, Func<Vring, uint, HandleResult> action)
    {
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(p);
        uint num = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        return index < (uint)_vrings.Length ? action(_vrings[index], num) : HandleResult.Fail($"ring {index} does not exist ({_vrings.Length} rings)");
    }

    private HandleResult SetFeatures(ulong features)
    {
        if ((features & ~OfferedFeatures) != 0)
        {
            return HandleResult.Fail($"features 0x{features & ~OfferedFeatures:x} were not offered");
        }
        if (Device.RefuseFeatures(features & ~VhostUserWire.ProtocolFeaturesBit) is { } refusal)
        {
            return HandleResult.Fail(refusal);
        }
        bool[] started = StopAll();
        _features = features;
        _featuresSet = true;
        Device.Activate(this);
        _logger.Debug("Features 0x{Features:x} accepted", features);
        return Result(RestartAll(started));
    }

    private HandleResult SetProtocolFeatures(ulong features)
    {
        if ((features & ~ProtocolFeatures.Supported) != 0)
        {
            return HandleResult.Fail($"protocol features 0x{features & ~ProtocolFeatures.Supported:x} were not offered");
        }
        _protocolFeatures = features;
        return HandleResult.Done;
    }

    private HandleResult ResetDevice()
    {
        StopAll();
        for (int i = 0; i < _vrings.Length; i++)
        {
            _vrings[i].Dispose();
            _vrings[i] = new Vring(i);
        }
        _features = 0;
        _featuresSet = false;
        Device.Reset();
        return HandleResult.Done;
    }

    private HandleResult SetMemTable(ReceivedMessage m)
    {
        ReadOnlySpan<byte> p = m.Body;
        if (p.Length < 8)
        {
            return HandleResult.Fail($"memory table of {p.Length} bytes");
        }
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (count is 0 or > VhostUserWire.MemTableRegions || p.Length != 8 + (int)count * RegionDescriptor.WireSize)
        {
            return HandleResult.Fail($"memory table of {count} regions in {p.Length} bytes");
        }
        if (m.FdCount != count)
        {
            return HandleResult.Fail($"memory table of {count} regions came with {m.FdCount} file descriptors");
        }
        Span<RegionDescriptor> regions = stackalloc RegionDescriptor[(int)count];
        for (int i = 0; i < count; i++)
        {
            regions[i] = RegionDescriptor.Read(p[(8 + i * RegionDescriptor.WireSize)..]);
        }
        bool[] started = StopAll();
        string? error = _memory.Replace(regions, m.Fds.AsSpan(0, m.FdCount));
        if (error is null)
        {
            _logger.Debug("Memory table: {Count} regions", count);
        }
        // A refused table leaves the old one in place, and the rings go on with it.
        string? restart = RestartAll(started);
        return Result(error ?? restart);
    }

    private HandleResult AddMemReg(ReceivedMessage m)
    {
        if (m.FdCount != 1)
        {
            return HandleResult.Fail($"ADD_MEM_REG came with {m.FdCount} file descriptors, expected 1");
        }
        RegionDescriptor d = RegionDescriptor.Read(m.Body[8..]);
        bool[] started = StopAll();
        string? error = _memory.Add(d, m.Fds[0]);
        string? restart = RestartAll(started);
        return Result(error ?? restart);
    }

    private HandleResult RemMemReg(ReadOnlySpan<byte> p)
    {
        RegionDescriptor d = RegionDescriptor.Read(p[8..]);
        bool[] started = StopAll();
        string? error = _memory.Remove(d);
        string? restart = RestartAll(started);
        return Result(error ?? restart);
    }

    private HandleResult SetVringNum(Vring v, uint num)
    {
        if (v.Started)
        {
            return HandleResult.Fail($"ring {v.Index}: SET_VRING_NUM while started");
        }
        if (num == 0 || num > Device.MaxQueueSize)
        {
            return HandleResult.Fail($"ring {v.Index}: size {num} outside 1..{Device.MaxQueueSize}");
        }
        v.Size = (ushort)num;
        return HandleResult.Done;
    }

    private HandleResult SetVringAddr(VringAddresses a)
    {
        if (a.Index >= (uint)_vrings.Length)
        {
            return HandleResult.Fail($"ring {a.Index} does not exist ({_vrings.Length} rings)");
        }
        Vring v = _vrings[a.Index];
        bool started = v.Started;
        v.Stop(Packed);
        v.Addresses = a;
        return Result(started ? TryStart(v) : null);
    }

    private HandleResult SetVringBase(Vring v, uint num)
    {
        if (v.Started)
        {
            return HandleResult.Fail($"ring {v.Index}: SET_VRING_BASE while started");
        }
        v.Base = num;
        return HandleResult.Done;
    }

    private HandleResult GetVringBase(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (index >= (uint)_vrings.Length)
        {
            return HandleResult.Fail($"ring {index} does not exist ({_vrings.Length} rings)");
        }
        Vring v = _vrings[index];
        // Stopping joins the worker: every request it took is completed before the position is reported.
        v.Stop(Packed);
        v.SetKick(-1);
        BinaryPrimitives.WriteUInt32LittleEndian(reply, index);
        BinaryPrimitives.WriteUInt32LittleEndian(reply[4..], v.Base);
        _logger.Debug("Ring {Index} stopped at base 0x{Base:x}", index, v.Base);
        return HandleResult.Reply(8);
    }

    private HandleResult SetVringFile(ReceivedMessage m)
    {
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(m.Body);
        ulong index = value & VhostUserWire.VringIndexMask;
        bool noFd = (value & VhostUserWire.VringNoFdFlag) != 0;
        if (index >= (ulong)_vrings.Length || (value & ~(VhostUserWire.VringIndexMask | VhostUserWire.VringNoFdFlag)) != 0)
        {
            return HandleResult.Fail($"{m.Header.Request}: bad ring word 0x{value:x}");
        }
        if (noFd != (m.FdCount == 0) || m.FdCount > 1)
        {
            return HandleResult.Fail($"{m.Header.Request}: {m.FdCount} file descriptors with no-fd flag {noFd}");
        }
        Vring v = _vrings[index];
        int fd = noFd ? -1 : m.TakeFd(0);
        switch (m.Header.Request)
        {
            case VhostUserRequest.SetVringCall:
                v.SetCall(fd);
                return HandleResult.Done;
            case VhostUserRequest.SetVringErr:
                v.SetErr(fd);
                return HandleResult.Done;
            default:
                if (noFd)
                {
                    return HandleResult.Fail($"ring {index}: polling mode (no kick fd) is not supported");
                }
                // A new kick fd for a running ring: stop it (keeping its position) and start it on the new one.
                v.Stop(Packed);
                v.SetKick(fd);
                return Result(TryStart(v));
        }
    }

    private HandleResult SetVringEnable(Vring v, uint num)
    {
        if (num > 1)
        {
            return HandleResult.Fail($"ring {v.Index}: enable value {num}");
        }
        v.Enabled = num == 1;
        if (!v.Enabled)
        {
            v.Stop(Packed);
            return HandleResult.Done;
        }
        return Result(TryStart(v));
    }

    private HandleResult GetConfig(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        if (ConfigRange(p) is not (uint offset, uint size))
        {
            return HandleResult.Fail($"GET_CONFIG payload of {p.Length} bytes is not a valid config access");
        }
        p[..12].CopyTo(reply);
        Span<byte> data = reply.Slice(12, (int)size);
        data.Clear();
        int length = Device.ConfigLength;
        if (offset < length)
        {
            int n = (int)Math.Min(size, (uint)length - offset);
            Device.ReadConfig((int)offset, data[..n]);
        }
        return HandleResult.Reply(12 + (int)size);
    }

    private HandleResult SetConfig(ReadOnlySpan<byte> p)
    {
        if (ConfigRange(p) is not (uint offset, uint size))
        {
            return HandleResult.Fail($"SET_CONFIG payload of {p.Length} bytes is not a valid config access");
        }
        if (offset + size > Device.ConfigLength)
        {
            return HandleResult.Fail($"SET_CONFIG of {size} bytes at {offset} is outside the {Device.ConfigLength}-byte config space");
        }
        Device.WriteConfig((int)offset, p.Slice(12, (int)size));
        return HandleResult.Done;
    }

    /// <summary>Offset and size of a config access whose payload length matches its size field and stays within 256 bytes.</summary>
    private static (uint Offset, uint Size)? ConfigRange(ReadOnlySpan<byte> p)
    {
        if (p.Length < 12)
        {
            return null;
        }
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(p);
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        if (size > VhostUserWire.MaxConfigSize || offset > VhostUserWire.MaxConfigSize - size || p.Length != 12 + (int)size)
        {
            return null;
        }
        return (offset, size);
    }

    private static HandleResult Result(string? error) => error is null ? HandleResult.Done : HandleResult.Fail(error);
}
